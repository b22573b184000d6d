import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

interface GoInstallOptions {
  what: string;
  targets: string[];
  dir: string;
  binaries: Record<string, string>;
  cwd?: string;
  verify?: (file: string) => void;
  log: (msg: string) => void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { goInstall } = require('../../scripts/go-build.js') as { goInstall(o: GoInstallOptions): Promise<void> };

/**
 * The one `go install` runner behind the Temporal CLI and the Temporal server binaries, on a small
 * Go module of the test's own (no download): binaries land under their cache names, and neither a
 * failed build nor a killed one leaves anything half-written behind.
 */

const MAIN = (text: string) => `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("${text}") }\n`;

describe('the go install runner of the scripts', () => {
  let root: string;
  let lines: string[];
  const log = (msg: string) => lines.push(msg);

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-go-build-'));
    lines = [];
    fs.writeFileSync(path.join(root, 'go.mod'), 'module example.com/tools\n\ngo 1.22\n');
    for (const [name, text] of [['hello', 'hello'], ['bye', 'bye']]) {
      fs.mkdirSync(path.join(root, 'cmd', name), { recursive: true });
      fs.writeFileSync(path.join(root, 'cmd', name, 'main.go'), MAIN(text));
    }
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const build = (o: Partial<GoInstallOptions> = {}) =>
    goInstall({ what: 'the tools', targets: ['./cmd/hello', './cmd/bye'], cwd: root, dir: path.join(root, 'cache'), binaries: { hello: 'tool-hello', bye: 'tool-bye' }, log, ...o });
  const cacheEntries = () => fs.readdirSync(path.join(root, 'cache')).sort();

  it('puts every binary of the build into the directory under its own name, and removes what a killed build left', async () => {
    const cache = path.join(root, 'cache');
    // A build killed earlier: its temporary directory names a process that is gone.
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    fs.mkdirSync(path.join(cache, `.build-${dead}-abc123`, 'half'), { recursive: true });
    const verified: string[] = [];

    await build({ verify: (file) => verified.push(path.basename(file)) });

    expect(cacheEntries()).toEqual(['tool-bye', 'tool-hello']);
    expect(spawnSync(path.join(cache, 'tool-hello'), { encoding: 'utf8' }).stdout).toBe('hello\n');
    expect(spawnSync(path.join(cache, 'tool-bye'), { encoding: 'utf8' }).stdout).toBe('bye\n');
    expect(verified.sort()).toEqual(['bye', 'hello']);
    expect(lines[0]).toBe('building the tools with `go install ./cmd/hello ./cmd/bye` (first run only; this takes several minutes)');
    expect(lines.at(-1)).toMatch(new RegExp(`^built the tools in \\d+ s: ${cache}$`));
  });

  it('a build that fails says why with the output of go and leaves nothing in the directory', async () => {
    fs.writeFileSync(path.join(root, 'cmd', 'bye', 'main.go'), 'package main\n\nfunc main() { undefinedThing() }\n');
    await expect(build()).rejects.toThrow(/go install \.\/cmd\/hello \.\/cmd\/bye exited with 1:\n[^]*undefined: undefinedThing/);
    expect(cacheEntries()).toEqual([]);
  });

  it('a binary that does not pass verification is not put in place', async () => {
    const refuse = (file: string) => {
      if (path.basename(file) === 'bye') throw new Error('the built binary does not run');
    };
    await expect(build({ verify: refuse })).rejects.toThrow('the built binary does not run');
    expect(cacheEntries()).toEqual([]);
  });
});
