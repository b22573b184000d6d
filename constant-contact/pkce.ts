import { createHash, randomBytes } from 'node:crypto';

/** PKCE (RFC 7636) with S256: the verifier stays with us, the challenge goes into the authorize URL. */
export interface PkcePair {
  /** 64 characters of base64url (RFC 7636 allows 43..128). */
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: 'S256';
}

export function pkceChallenge(codeVerifier: string): string {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(codeVerifier)) throw new Error('a PKCE verifier is 43 to 128 unreserved characters');
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}

export function createPkcePair(): PkcePair {
  const codeVerifier = randomBytes(48).toString('base64url');
  return { codeVerifier, codeChallenge: pkceChallenge(codeVerifier), codeChallengeMethod: 'S256' };
}
