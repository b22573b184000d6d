'use strict';
/**
 * Where things are and what the environment asks for: the repository root, the built entry points,
 * the data directory, the Temporal server to use and whether the real Constant Contact is configured.
 */
const fs = require('node:fs');
const path = require('node:path');
const { isLocalHost, parseAddress } = require('./processes.js');

const ROOT = path.resolve(__dirname, '..');
const ENTRY = {
  api: 'dist/api/main.js',
  worker: 'dist/worker/main.js',
  sandbox: 'dist/sandbox/main.js',
  bench: 'dist/bench/main.js',
  demo: 'dist/scripts/demo.js',
};

function entryPath(name) {
  return path.join(ROOT, ENTRY[name]);
}

function requireEntry(name) {
  const p = entryPath(name);
  if (!fs.existsSync(p)) throw new Error(`${ENTRY[name]} does not exist: the ${name} entry point is not built (is ${ENTRY[name].replace(/^dist\//, '').replace(/\.js$/, '.ts')} there?)`);
  return p;
}

function dataDir() {
  return path.resolve(process.env.DATA_DIR || '.data');
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function realConstantContact(env = process.env) {
  const sandboxForced = ['true', '1', 'yes'].includes(String(env.CC_SANDBOX || '').toLowerCase());
  return Boolean(env.CC_CLIENT_ID && env.CC_CLIENT_SECRET) && !sandboxForced;
}

function temporalTarget(env = process.env) {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const { host, port } = parseAddress(address);
  let uiPort = port + 1000;
  if (env.TEMPORAL_UI_URL) {
    try {
      const u = new URL(env.TEMPORAL_UI_URL);
      if (u.port) uiPort = Number(u.port);
    } catch {
      /* config validation reports it */
    }
  }
  return { address, host, port, uiPort, local: isLocalHost(host), namespace: env.TEMPORAL_NAMESPACE || 'default' };
}

module.exports = { ROOT, ENTRY, entryPath, requireEntry, dataDir, readIfExists, realConstantContact, temporalTarget };
