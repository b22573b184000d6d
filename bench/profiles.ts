/**
 * Generated, clearly fictional profiles for benchmarks: deterministic (the same index gives the
 * same profile), with the attribute mix of a real customer table (strings with Latvian letters,
 * numbers, booleans, nulls, dates as strings) and emails on the reserved example.test domain.
 */

const FIRST = ['Jānis', 'Līga', 'Pēteris', 'Anna', 'Mārtiņš', 'Ilze', 'Andris', 'Zane', 'Kārlis', 'Inese', 'Alex', 'Sam'];
const LAST = ['Bērziņš', 'Kalniņa', 'Ozoliņš', 'Liepa', 'Krūmiņš', 'Eglīte', 'Example', 'Sample'];
const COUNTRIES = ['LV', 'EE', 'LT', 'FI', 'SE', 'DE', 'US'];
const TIERS = ['bronze', 'silver', 'gold', 'platinum'];

export interface BenchProfile {
  id: string;
  [attribute: string]: string | number | boolean | null;
}

export function benchProfileId(i: number): string {
  return `bench-${String(i).padStart(8, '0')}`;
}

export function benchProfile(i: number): BenchProfile {
  const day = 1 + (i % 28);
  const month = 1 + (i % 12);
  return {
    id: benchProfileId(i),
    email: i % 97 === 0 ? null : `user${i}@example.test`,
    firstName: FIRST[i % FIRST.length],
    lastName: LAST[(i >> 3) % LAST.length],
    Country: COUNTRIES[i % COUNTRIES.length],
    age: 18 + (i % 70),
    vip: i % 11 === 0,
    tier: TIERS[i % TIERS.length],
    score: Math.round(((i * 7919) % 10000) / 10) / 10,
    signupDate: `20${String(15 + (i % 10)).padStart(2, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    city: i % 5 === 0 ? 'Rīga' : i % 5 === 1 ? 'Tallinn' : null,
  };
}

/**
 * The profiles [from, from + count) as NDJSON, in chunks of about `chunkBytes`, generated as they
 * are consumed (a 1,000,000-profile body never exists in memory at once).
 */
export async function* benchNdjson(count: number, options: { from?: number; chunkBytes?: number } = {}): AsyncGenerator<Buffer> {
  const from = options.from ?? 0;
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  let lines: string[] = [];
  let size = 0;
  for (let i = from; i < from + count; i++) {
    const line = `${JSON.stringify(benchProfile(i))}\n`;
    lines.push(line);
    size += line.length;
    if (size >= chunkBytes) {
      yield Buffer.from(lines.join(''), 'utf8');
      lines = [];
      size = 0;
    }
  }
  if (lines.length) yield Buffer.from(lines.join(''), 'utf8');
}
