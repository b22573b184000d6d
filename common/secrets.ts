import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Config } from './config';

/**
 * AES-256-GCM for what the store keeps secret (OAuth tokens, PKCE verifiers).
 * Stored form: `v1.<iv b64url>.<tag b64url>.<ciphertext b64url>`; the associated data binds a
 * ciphertext to its row (e.g. the connection id), so it cannot be copied to another row.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(hexKey: string) {
    if (!/^[0-9a-fA-F]{64}$/.test(hexKey)) throw new Error('SECRETS_KEY must be 64 hex characters');
    this.key = Buffer.from(hexKey, 'hex');
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string, associatedData: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** For single-use values we only need to recognise (tickets, OAuth state): store the hash, never the value. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

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
