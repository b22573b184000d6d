import { createSandbox, type SandboxOptions } from './server';

/**
 * `npm run sandbox`: the Constant Contact sandbox as a process. Port from CC_SANDBOX_PORT (default
 * 4010), host from CC_SANDBOX_HOST (default 127.0.0.1), rates from CC_SANDBOX_RATE_PER_SECOND and
 * CC_SANDBOX_RATE_PER_DAY, activity speed from CC_SANDBOX_IMPORT_MS_PER_CONTACT, the least time an
 * import body takes to parse from CC_SANDBOX_IMPORT_PARSE_MIN_MS. State is in memory.
 */

function envNumber(name: string, integer: boolean, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return n;
}

async function main(): Promise<void> {
  const port = envNumber('CC_SANDBOX_PORT', true, 0) ?? 4010;
  if (port > 65535) throw new Error('CC_SANDBOX_PORT must be a port number');
  const host = process.env.CC_SANDBOX_HOST || '127.0.0.1';
  const options: Partial<SandboxOptions> = {
    ratePerSecond: envNumber('CC_SANDBOX_RATE_PER_SECOND', true, 1),
    ratePerDay: envNumber('CC_SANDBOX_RATE_PER_DAY', true, 1),
    importMsPerContact: envNumber('CC_SANDBOX_IMPORT_MS_PER_CONTACT', false, 0),
    importParseMinMs: envNumber('CC_SANDBOX_IMPORT_PARSE_MIN_MS', false, 0),
  };
  const sandbox = createSandbox(options);
  const address = await sandbox.listen(port, host);
  process.stdout.write(
    `${JSON.stringify({ msg: 'Constant Contact sandbox listening', url: address.baseUrl, apiBaseUrl: address.apiBaseUrl, authBaseUrl: address.authBaseUrl })}\n`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    sandbox.close().then(
      () => {
        process.stdout.write(`${JSON.stringify({ msg: 'Constant Contact sandbox stopped', signal })}\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`${JSON.stringify({ msg: 'Constant Contact sandbox failed to stop', error: String(err) })}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ msg: 'Constant Contact sandbox failed to start', error: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
});
