import type { Request } from 'express';
import { apiKeyCredential, keyFingerprint } from '../../api/auth';
import { RequestRateLimiter } from '../../api/rate-limit';

const admin = 'admin-key-0123456789abcdef';
const contributor = 'contributor-key-0123456789';
const credential = apiKeyCredential([
  { role: 'admin', key: admin },
  { role: 'contributor', key: contributor },
]);
const request = (authorization?: string) => ({ header: (name: string) => (name === 'authorization' ? authorization : undefined) }) as unknown as Request;

describe('API keys', () => {
  it('recognises every configured key with its role and fingerprint', () => {
    expect(credential(request(`Bearer ${admin}`))).toEqual({ role: 'admin', credential: 'api-key', fingerprint: keyFingerprint(admin) });
    expect(credential(request(`bearer ${contributor}`))).toEqual({ role: 'contributor', credential: 'api-key', fingerprint: keyFingerprint(contributor) });
  });

  it('refuses a prefix, an extension, a same-length variant and a key of another scheme', () => {
    const sameLength = admin.slice(0, -1) + (admin.endsWith('f') ? 'e' : 'f');
    for (const header of [`Bearer ${admin.slice(0, -1)}`, `Bearer ${admin}x`, `Bearer ${sameLength}`, `Basic ${admin}`, 'Bearer', '']) {
      expect([header, credential(request(header))]).toEqual([header, 'invalid']);
    }
  });

  it('leaves a request without an Authorization header to other credential kinds', () => {
    expect(credential(request(undefined))).toBeUndefined();
  });

  it('fingerprints are short, stable and do not contain the key', () => {
    expect(keyFingerprint(admin)).toMatch(/^[0-9a-f]{12}$/);
    expect(keyFingerprint(admin)).toBe(keyFingerprint(admin));
    expect(keyFingerprint(admin)).not.toBe(keyFingerprint(contributor));
    expect(admin).not.toContain(keyFingerprint(admin));
  });
});

describe('the per-key request rate limit', () => {
  it('allows a burst, then answers when the next request is allowed, refilling at the rate', () => {
    let now = 0;
    const limiter = new RequestRateLimiter(2, 3, () => now);
    expect([1, 2, 3].map(() => limiter.take('a').ok)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('b').ok).toBe(true);
    now += 500;
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });
});
