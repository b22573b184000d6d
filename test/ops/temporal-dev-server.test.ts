import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { SearchAttributeType, TypedSearchAttributes, defineSearchAttributeKey } from '@temporalio/common';
import { connectTestClient, temporalCli, temporalCliJson, testTemporal } from '../helpers/temporal';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporal = require('../../scripts/temporal.js');

const ExportId = defineSearchAttributeKey('ExportId', SearchAttributeType.KEYWORD);

describe('the Temporal dev server of the test run', () => {
  it('is not the one `npm start` uses (never 7233)', () => {
    const { address, uiUrl } = testTemporal();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(address.endsWith(':7233')).toBe(false);
    expect(uiUrl).not.toContain(':8233');
  });

  it('is run by a CLI whose version scripts/temporal.js knows', () => {
    expect(temporal.cliVersionOf(testTemporal().cli)).toMatch(/^1\.(5\.[01]|4\.1)$/);
  });

  it('has the search attributes every run carries', async () => {
    const list = await temporalCliJson<{ customAttributes: Record<string, string> }>(['operator', 'search-attribute', 'list']);
    for (const name of Object.keys(temporal.SEARCH_ATTRIBUTES)) {
      expect(list.customAttributes[name]).toMatch(/KEYWORD/i);
    }
  });

  it('finds a workflow by its ExportId search attribute, through the client and the CLI', async () => {
    const client = await connectTestClient();
    const exportId = `exp_ops_${Date.now()}`;
    const workflowId = `ops-search-attribute-${exportId}`;
    try {
      // No worker polls this task queue: the workflow stays open until it is terminated.
      const handle = await client.workflow.start('noSuchWorkflow', {
        taskQueue: `ops-${exportId}`,
        workflowId,
        typedSearchAttributes: new TypedSearchAttributes([{ key: ExportId, value: exportId }]),
      });
      let ids: string[] = [];
      for (let i = 0; i < 100 && ids.length === 0; i++) {
        const found = await temporalCliJson<Array<{ execution: { workflowId: string } }>>(['workflow', 'list', '--query', `ExportId = '${exportId}'`]);
        ids = found.map((w) => w.execution.workflowId);
        if (ids.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(ids).toEqual([workflowId]);
      await handle.terminate('test done');
    } finally {
      await client.connection.close();
    }
  });
});

describe('startDevServer', () => {
  let dir: string;
  let cli: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-devserver-'));
    cli = testTemporal().cli;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps workflows across a restart (database file), reuses a listening server and stops by pid', async () => {
    const port: number = await temporal.freePort();
    const uiPort: number = await temporal.freePort();
    const opts = { cli, port, uiPort, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log'), log: () => {}, healthTimeoutMs: 120000 };
    const first = await temporal.startDevServer(opts);
    expect(first.reused).toBe(false);
    const workflowId = `ops-restart-${Date.now()}`;
    let connection = await Connection.connect({ address: first.address });
    await new Client({ connection }).workflow.start('noSuchWorkflow', { taskQueue: 'ops-restart', workflowId });
    await connection.close();

    const again = await temporal.startDevServer(opts);
    expect(again.reused).toBe(true);
    expect(again.pid).toBeNull();

    await first.stop();
    expect(temporal.pidAlive(first.pid)).toBe(false);
    expect(await temporal.isListening('127.0.0.1', port)).toBe(false);

    const second = await temporal.startDevServer(opts);
    try {
      connection = await Connection.connect({ address: second.address });
      const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('RUNNING');
      await connection.close();
      const r = await temporalCli(['operator', 'cluster', 'health', '--address', second.address]);
      expect(r.stdout).toContain('SERVING');
    } finally {
      await second.stop();
    }
    expect(temporal.pidAlive(second.pid)).toBe(false);
  });
});
