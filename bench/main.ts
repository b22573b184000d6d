import { importBenchOptions, runImportBench } from './import';

/**
 * `npm run bench -- <benchmark> [options]` (runs `node dist/bench/main.js`; build first).
 *
 *   import [--profiles N] [--stores sqlite,postgres]   streamed profile import: time and API peak RSS
 *
 * Each benchmark is a function `(args) => Promise<void>` registered below.
 */
const benchmarks: Record<string, { usage: string; run: (args: string[]) => Promise<unknown> }> = {
  import: {
    usage: 'import [--profiles N] [--stores sqlite,postgres]   imports N generated profiles (default 1,000,000) through the API; prints time and peak RSS',
    run: (args) => runImportBench(importBenchOptions(args)),
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const bench = name ? benchmarks[name] : undefined;
  if (!bench) {
    process.stderr.write(`usage: npm run bench -- <benchmark> [options]\n${Object.values(benchmarks).map((b) => `  ${b.usage}`).join('\n')}\n`);
    return 2;
  }
  await bench.run(args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
