import { createHash } from 'node:crypto';
import { migrations } from '../../store/migrations';

/**
 * A migration applied to a database is never applied there again, so editing its SQL would leave
 * that database and a new one with different schemas. The digests below are of the SQL as released;
 * a new migration adds a line, an edit of an old one fails here.
 */
const released: Array<[version: number, sqlite: string, postgres: string]> = [
  [1, '58942d01d4d871e2', '18ca40c831b22349'],
  [10, 'b651c3b187111dd1', 'df29ec93d3675b8a'],
  [20, 'a02569a340a79adf', 'f07f04fa21dc5dce'],
  [21, '5b22f1b2c0a4ab58', 'abeae3d3699362e4'],
  [22, '7b5724c3a48b96ae', '7b5724c3a48b96ae'],
  [30, '9b6dd3944060af0f', '9b6dd3944060af0f'],
  [31, '067cefac037ddb50', '067cefac037ddb50'],
  [40, 'bbccda655b982bcc', 'bbccda655b982bcc'],
  [50, 'b9954f1ed1bd537e', '6cd3ef97b6076fee'],
  [51, '6880f6893e3f6502', '421d42a59d2d5bec'],
  [60, '602026ad3130c4b0', '602026ad3130c4b0'],
];

const digest = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);

describe('the migrations', () => {
  it('have growing, unique versions', () => {
    const versions = migrations.map((m) => m.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
  });

  it('keep the SQL of every released migration as it was released', () => {
    const current = migrations.map((m) => [m.version, digest(m.sql('sqlite')), digest(m.sql('postgres'))]);
    expect(current.slice(0, released.length)).toEqual(released);
  });
});
