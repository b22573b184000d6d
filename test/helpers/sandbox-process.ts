import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxAddress } from '../../sandbox/server';

const ROOT = path.resolve(__dirname, '../..');

export interface SandboxProcess {
  address: SandboxAddress;
  stop(): Promise<void>;
}

/**
 * The sandbox as a process of its own (dist/sandbox/main.js, as `npm start` and the bench run it),
 * for tests that judge when requests arrive: an in-process sandbox stamps them only when the test's
 * own event loop gets to them, so a pause of the test process bunches requests sent on time.
 */
export async function startSandboxProcess(env: Record<string, string> = {}): Promise<SandboxProcess> {
  const entry = path.join(ROOT, 'dist/sandbox/main.js');
  if (!fs.existsSync(entry)) throw new Error('dist/sandbox/main.js is missing: build with `npm run build` (npm test builds first)');
  const child: ChildProcess = spawn(process.execPath, [entry], { cwd: ROOT, env: { ...process.env, CC_SANDBOX_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"([^"]+)"/.exec(out);
      if (match) resolve(match[1]);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then(() => reject(new Error(`the sandbox exited before it listened:\n${out}`)));
  });
  return {
    address: { port: Number(new URL(url).port), baseUrl: url, apiBaseUrl: `${url}/v3`, authBaseUrl: `${url}/oauth2/default/v1` },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
