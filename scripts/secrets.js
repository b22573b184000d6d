'use strict';
/**
 * The secrets of one installation, generated once when the environment does not give them: the API
 * keys (one admin, one contributor) and SECRETS_KEY, kept in the data directory with mode 0600 so
 * that every process of the installation (npm start, npm run worker, npm run api) agrees.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { dataDir, readIfExists } = require('./environment.js');
const { warn } = require('./logs.js');

function writeSecretFile(file, content) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * API keys when API_KEYS is unset: one admin and one contributor key, generated once and kept in
 * <DATA_DIR>/api-keys.json (mode 0600). Returns {apiKeys, generated: {admin, contributor} | null}.
 */
function ensureApiKeys(dir) {
  if (process.env.API_KEYS) return { apiKeys: process.env.API_KEYS, stored: null, file: null };
  const file = path.join(dir, 'api-keys.json');
  let keys = null;
  const raw = readIfExists(file);
  if (raw) {
    try {
      const parsed = JSON.parse(raw);
      if (typeof parsed.admin === 'string' && parsed.admin.length >= 16 && typeof parsed.contributor === 'string' && parsed.contributor.length >= 16) {
        keys = { admin: parsed.admin, contributor: parsed.contributor };
      }
    } catch {
      /* regenerate below */
    }
    if (!keys) warn(`${file} is not valid; generating new API keys`);
  }
  let created = false;
  if (!keys) {
    keys = { admin: `adm_${crypto.randomBytes(24).toString('base64url')}`, contributor: `ctb_${crypto.randomBytes(24).toString('base64url')}` };
    writeSecretFile(file, `${JSON.stringify(keys, null, 2)}\n`);
    created = true;
  } else {
    fs.chmodSync(file, 0o600);
  }
  return { apiKeys: `admin:${keys.admin},contributor:${keys.contributor}`, stored: keys, file, created };
}

/** SECRETS_KEY when unset: 32 random bytes as hex, generated once into <DATA_DIR>/secrets-key (0600). */
function ensureSecretsKey(dir) {
  if (process.env.SECRETS_KEY) return { secretsKey: process.env.SECRETS_KEY, file: null };
  const file = path.join(dir, 'secrets-key');
  const raw = (readIfExists(file) || '').trim();
  if (/^[0-9a-fA-F]{64}$/.test(raw)) {
    fs.chmodSync(file, 0o600);
    return { secretsKey: raw, file, created: false };
  }
  if (raw) throw new Error(`${file} does not hold 64 hex characters; fix or delete it (tokens encrypted with it become unreadable)`);
  const key = crypto.randomBytes(32).toString('hex');
  writeSecretFile(file, `${key}\n`);
  return { secretsKey: key, file, created: true };
}

/** The environment for the app processes: the caller's, plus DATA_DIR, API_KEYS and SECRETS_KEY. */
function appEnvironment() {
  const dir = dataDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = ensureApiKeys(dir);
  const secrets = ensureSecretsKey(dir);
  const env = { ...process.env, DATA_DIR: dir, API_KEYS: keys.apiKeys, SECRETS_KEY: secrets.secretsKey };
  return { env, keys, secrets, dir };
}

module.exports = { ensureApiKeys, ensureSecretsKey, appEnvironment };
