import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The workflow bundle for the worker, built once per version of the code it contains and reused by
 * every worker start after it (a restarted or second worker starts in a second, not after webpack).
 * The bundling runs in a short-lived child process, so webpack's few hundred megabytes never count
 * against the worker's own memory.
 *
 * Cache: `<dist>/.workflow-bundles/workflows-<key>.js`, else the temporary directory when dist is
 * read-only. The key covers every module the bundle is made of: the workflows' entry and every
 * file it imports, transitively, wherever it lives (services/contracts.ts is one outside
 * workflows/), and each package it imports by name and version, with the SDK's own version.
 */

/** Module specifiers a JavaScript or TypeScript source loads (type-only imports are erased, so they do not count). */
function importedSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
    /^\s*(?:import|export)\s+(?!type\b)[^;'"]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]);
  return found;
}

/** The file a relative specifier names, as Node or the bundler would find it. */
function resolveFile(fromDir: string, specifier: string): string | undefined {
  const base = path.resolve(fromDir, specifier);
  return [base, `${base}.js`, `${base}.ts`, path.join(base, 'index.js'), path.join(base, 'index.ts')].find(
    (candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile(),
  );
}

/** The name and version of a package a module imports (`@scope/name/sub` → `@scope/name@1.2.3`). */
function packageVersion(fromDir: string, specifier: string): string {
  const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return `${name}@${(require(require.resolve(`${name}/package.json`, { paths: [fromDir] })) as { version: string }).version}`;
  } catch {
    return `${name}@unresolved`;
  }
}

/** What the bundle of `entry` is made of: its files (transitively imported) and its packages (`name@version`). */
export function workflowBundleModules(entry: string): { files: Map<string, Buffer>; packages: string[] } {
  const files = new Map<string, Buffer>();
  const packages = new Set<string>(['@temporalio/worker', '@temporalio/workflow'].map((name) => packageVersion(__dirname, name)));
  const visit = (file: string) => {
    if (files.has(file)) return;
    const source = fs.readFileSync(file);
    files.set(file, source);
    for (const specifier of importedSpecifiers(source.toString('utf8'))) {
      if (specifier.startsWith('.')) {
        const next = resolveFile(path.dirname(file), specifier);
        if (next) visit(next);
      } else {
        packages.add(packageVersion(path.dirname(file), specifier));
      }
    }
  };
  visit(path.resolve(entry));
  return { files, packages: [...packages].sort() };
}

/** The cache key of the bundle of `entry`: a hash of every file and package the bundle contains. */
export function workflowBundleKey(entry: string): string {
  const { files, packages } = workflowBundleModules(entry);
  const root = path.dirname(path.dirname(path.resolve(entry)));
  const hash = createHash('sha256');
  for (const [file, source] of [...files].sort(([a], [b]) => a.localeCompare(b))) hash.update(path.relative(root, file)).update('\0').update(source);
  for (const pkg of packages) hash.update(pkg).update('\0');
  return hash.digest('hex').slice(0, 16);
}

function cacheDirs(workflowsDir: string): string[] {
  return [path.join(path.dirname(workflowsDir), '.workflow-bundles'), path.join(os.tmpdir(), 'segment-export-workflow-bundles')];
}

/** The path of a bundle of `workflowsPath` (a module such as dist/workflows/index.js), building it if needed. */
export async function workflowBundlePath(workflowsPath: string, log: (msg: string) => void = () => undefined): Promise<string> {
  const workflowsDir = path.dirname(workflowsPath);
  const name = `workflows-${workflowBundleKey(workflowsPath)}.js`;
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
