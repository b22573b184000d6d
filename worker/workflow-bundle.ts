import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The workflow bundle for the worker, built once per version of the workflow code and reused by
 * every worker start after it (a restarted or second worker starts in a second, not after webpack).
 * The bundling runs in a short-lived child process, so webpack's few hundred megabytes never count
 * against the worker's own memory.
 *
 * Cache: `<dist>/.workflow-bundles/<hash of the workflow code>.js`, else the temporary directory
 * when dist is read-only.
 */

function hashWorkflows(workflowsDir: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) hash.update(entry.name).update(fs.readFileSync(p));
    }
  };
  walk(workflowsDir);
  // A different SDK version bundles differently.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  hash.update(String((require('@temporalio/workflow/package.json') as { version: string }).version));
  return hash.digest('hex').slice(0, 16);
}

function cacheDirs(workflowsDir: string): string[] {
  return [path.join(path.dirname(workflowsDir), '.workflow-bundles'), path.join(os.tmpdir(), 'segment-export-workflow-bundles')];
}

/** The path of a bundle of `workflowsPath` (a module such as dist/workflows/index.js), building it if needed. */
export async function workflowBundlePath(workflowsPath: string, log: (msg: string) => void = () => undefined): Promise<string> {
  const workflowsDir = path.dirname(workflowsPath);
  const name = `workflows-${hashWorkflows(workflowsDir)}.js`;
  for (const dir of cacheDirs(workflowsDir)) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  let lastError: unknown;
  for (const dir of cacheDirs(workflowsDir)) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
      log(`bundling the workflow code (once per version) into ${path.join(dir, name)}`);
      await bundleInChild(workflowsPath, tmp);
      const file = path.join(dir, name);
      fs.renameSync(tmp, file);
      return file;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

function bundleInChild(workflowsPath: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--bundle', workflowsPath, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bundling the workflows failed (${code}): ${stderr}`))));
  });
}

if (require.main === module && process.argv[2] === '--bundle') {
  const [workflowsPath, out] = process.argv.slice(3);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { bundleWorkflowCode } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`${m}\n`) } })
    .then(({ code }) => fs.writeFileSync(out, code))
    .then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      },
    );
}
