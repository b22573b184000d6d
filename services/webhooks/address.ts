import dns from 'node:dns';
import net from 'node:net';

/**
 * Where webhooks may go: http(s) URLs without credentials, whose host resolves only to public
 * addresses. Loopback, private, link-local, shared, multicast and reserved ranges are refused unless
 * WEBHOOK_ALLOW_PRIVATE=true. The check runs at registration and again on every delivery, on the
 * very addresses the connection uses (a name that resolved to a public address at registration and
 * to a private one later, DNS rebinding, is refused then).
 */

const blocked = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** True for an address a webhook must not reach unless private addresses are allowed. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '');
  // An IPv4-mapped IPv6 address is its IPv4 address (BlockList would match it against every IPv4 rule).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return isPrivateAddress(mapped[1]);
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (mappedHex) {
    const [high, low] = [parseInt(mappedHex[1], 16), parseInt(mappedHex[2], 16)];
    return isPrivateAddress([high >> 8, high & 255, low >> 8, low & 255].join('.'));
  }
  const family = net.isIP(ip);
  if (family === 0) return true; // not an address: refuse rather than guess
  return blocked.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

export class WebhookAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookAddressError';
  }
}

export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: LookupAll = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** Why a URL cannot take webhooks (http(s) without credentials only), or undefined when it can. */
export function urlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs take webhooks';
  if (url.username || url.password) return 'the URL must not carry credentials (the signature authenticates deliveries)';
  return undefined;
}

const refusal = (host: string, address: string | undefined) =>
  new WebhookAddressError(`${host} resolves to ${address ?? 'no address'}, a loopback, private or reserved address (WEBHOOK_ALLOW_PRIVATE=true allows it)`);

/** Throws WebhookAddressError when `host` is, or resolves to, an address webhooks must not reach. */
export async function assertPublicHost(host: string, options: { allowPrivate: boolean; lookup?: LookupAll }): Promise<void> {
  if (options.allowPrivate) return;
  const ip = host.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(ip) ? [ip] : (await (options.lookup ?? systemLookup)(host)).map((a) => a.address);
  const refused = addresses.find(isPrivateAddress);
  if (refused !== undefined || addresses.length === 0) throw refusal(host, refused);
}

/** Throws WebhookAddressError when `host` is an IP literal webhooks must not reach (a name is left to guardedLookup). */
export function assertPublicAddress(host: string, options: { allowPrivate: boolean }): void {
  const ip = host.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && net.isIP(ip) && isPrivateAddress(ip)) throw refusal(host, ip);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect that refuses private addresses: the connection then goes only to the
 * addresses this check saw. (IP literals never reach a lookup; check them with assertPublicHost.)
 */
export function guardedLookup(options: { allowPrivate: boolean; lookup?: LookupAll }) {
  return (hostname: string, opts: dns.LookupOptions, callback: LookupCallback): void => {
    (options.lookup ?? systemLookup)(hostname).then(
      (addresses) => {
        const refused = options.allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
        if (refused || addresses.length === 0) {
          callback(refusal(hostname, refused?.address), '');
          return;
        }
        const usable = opts.family ? addresses.filter((a) => a.family === opts.family) : addresses;
        if (opts.all) callback(null, usable);
        else callback(null, usable[0]?.address ?? '', usable[0]?.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
