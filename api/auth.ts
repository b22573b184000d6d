import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { ApiKey } from '../common/config';
import type { Role } from '../store/types';

/**
 * Who is calling, for every request: the one place that reads credentials. A credential kind reads
 * the request and answers a principal, `'invalid'` (its kind of credential, but wrong) or
 * undefined (not its kind); the kinds are asked in order and the first answer counts. API keys
 * are the one kind today; another (e.g. a browser session cookie) is one more CredentialKind.
 *
 * Nothing here reads the body: routes authorize the principal before any body is read.
 */

export interface Principal {
  role: Role;
  /** The kind of credential that proved it, e.g. `api-key`. */
  credential: string;
  /** Names the credential in logs and the audit log; never the credential itself. */
  fingerprint: string;
}

/** A kind may look the credential up (a session in the store) or refuse the request outright by throwing an ApiError. */
export type CredentialKind = (req: Request, res: Response) => CredentialAnswer | Promise<CredentialAnswer>;
type CredentialAnswer = Principal | 'invalid' | undefined;

const FINGERPRINT_CONTEXT = 'segment-export api key fingerprint\n';

/** A short name of an API key for logs: a prefix of a hash, from which the key cannot be recovered. */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(FINGERPRINT_CONTEXT + key).digest('hex').slice(0, 12);
}

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * `Authorization: Bearer <key>` against API_KEYS. Keys are compared as SHA-256 digests (always 32
 * bytes, so no length leaks) against every configured key, without stopping at the first match.
 */
export function apiKeyCredential(keys: readonly ApiKey[]): (req: Request) => CredentialAnswer {
  const known = keys.map((k) => ({ role: k.role, digest: digest(k.key), fingerprint: keyFingerprint(k.key) }));
  return (req) => {
    const header = req.header('authorization');
    if (header === undefined) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return 'invalid';
    const given = digest(match[1]);
    const matches = known.map((k) => timingSafeEqual(k.digest, given));
    const found = known[matches.indexOf(true)];
    return found ? { role: found.role, credential: 'api-key', fingerprint: found.fingerprint } : 'invalid';
  };
}

/** Sets `res.locals.principal` when a credential proves who calls; answers only when a kind refuses the request. */
export function authenticate(kinds: readonly CredentialKind[]) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      for (const kind of kinds) {
        const answer = await kind(req, res);
        if (answer === undefined) continue;
        if (answer !== 'invalid') res.locals.principal = answer;
        else res.locals.credentialRefused = true;
        break;
      }
    } catch (err) {
      return next(err);
    }
    next();
  };
}

export const principalOf = (res: Response): Principal | undefined => res.locals.principal as Principal | undefined;
