'use strict';
/**
 * Jest global setup: one Temporal dev server for the whole run, on free ports (never 7233/8233, so
 * a running `npm start` is left alone), with a fresh database in a temporary directory and the
 * search attributes the runs carry.
 *
 * Tests find it through process.env (jest workers inherit the environment set here):
 *   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_UI_URL, TEMPORAL_CLI (the binary), and
 *   TEST_DATABASE_URL (PostgreSQL for the store tests, default postgres://postgres@127.0.0.1:5432/test).
 * The same is written to os.tmpdir()/segment-export-test-temporal-<jest pid>.json as a backup;
 * test/helpers/temporal.ts reads either.
 *
 * TEST_TEMPORAL_ADDRESS=host:port uses an already running server instead of starting one.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const temporal = require('../scripts/temporal.js');

const STATE_KEY = '__SEGMENT_EXPORT_TEST_TEMPORAL__';

module.exports = async function globalSetup() {
  process.env.TEST_DATABASE_URL ||= 'postgres://postgres@127.0.0.1:5432/test';
  const cli = await temporal.ensureTemporalCli({ log: (m) => process.stderr.write(`\n[temporal] ${m}`) });
  // The Temporal server binaries of the cluster tests, built once like the CLI.
  await require('../scripts/temporal-server.js').ensureTemporalServer({ log: (m) => process.stderr.write(`\n[temporal-server] ${m}`) });
  const namespace = 'default';
  let server;
  let dir = null;
  if (process.env.TEST_TEMPORAL_ADDRESS) {
    const address = process.env.TEST_TEMPORAL_ADDRESS;
    await temporal.waitHealthy(cli.path, address, { timeoutMs: 30000 });
    await temporal.ensureSearchAttributes(cli.path, address, namespace);
    const { host, port } = temporal.parseAddress(address);
    server = { address, uiUrl: `http://${host}:${port + 1000}`, pid: null, stop: async () => {} };
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-export-test-temporal-'));
    const port = await temporal.freePort();
    let uiPort = await temporal.freePort();
    while (uiPort === port) uiPort = await temporal.freePort();
    server = await temporal.startDevServer({
      cli: cli.path,
      port,
      uiPort,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      namespace,
      healthTimeoutMs: 120000, // a busy 2-core CI machine
      watchOwner: process.pid, // a killed jest leaves no server behind
      log: () => {},
    });
  }
  const info = {
    address: server.address,
    namespace,
    uiUrl: server.uiUrl,
    cli: cli.path,
    pid: server.pid,
    dir,
    databaseUrl: process.env.TEST_DATABASE_URL,
  };
  process.env.TEMPORAL_ADDRESS = info.address;
  process.env.TEMPORAL_NAMESPACE = namespace;
  process.env.TEMPORAL_UI_URL = info.uiUrl;
  process.env.TEMPORAL_CLI = info.cli;
  const infoFile = path.join(os.tmpdir(), `segment-export-test-temporal-${process.pid}.json`);
  fs.writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  process.env.TEST_TEMPORAL_INFO_FILE = infoFile;
  globalThis[STATE_KEY] = { server, dir, infoFile };
};

module.exports.STATE_KEY = STATE_KEY;
