import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from './config';
import { openStore, storeOptionsFromConfig, type Store } from '../store';

/**
 * SECRETS_KEY from the environment; in development, when unset, one generated once and kept with
 * mode 0600 under the data directory. Production requires it: losing it loses every stored token.
 */
export function resolveSecretsKey(config: Config): string {
  if (config.secretsKey) return config.secretsKey;
  if (config.env === 'production') throw new Error('SECRETS_KEY: required when NODE_ENV=production');
  const file = path.join(config.dataDir, 'secrets-key');
  fs.mkdirSync(config.dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return fs.readFileSync(file, 'utf8').trim();
}

export function openConfiguredStore(config: Config): Promise<Store> {
  return openStore(storeOptionsFromConfig(config, resolveSecretsKey(config)));
}
