import { apiBenchOptions, runApiBench } from './api';
import { importBenchOptions, runImportBench } from './import';
import { exportBenchOptions, runExportBench } from './export';
import { csvBenchOptions, runCsvBench } from './csv';
import { clusterBenchOptions } from './cluster';

/**
 * `npm run bench -- <benchmark> [options]` (runs `node dist/bench/main.js`; build first).
 *
 *   import [--profiles N] [--stores sqlite,postgres]   streamed profile import: time and API peak RSS
 *   export [--profiles N] [--store sqlite|postgres] [--changed F]   the export run against a plain script (the default); --changed: then F of the profiles change and it runs again
 *   csv [--rows N]                                    our CSV parser against csv-parse: correctness, time, peak RSS
 *   export --cluster [--profiles N]                     the same on a Temporal server on PostgreSQL, two workers
 *   api [--profiles N] [--store sqlite|postgres] [--seconds S] [--connections C]   the API under load, quiet and while the store works hard
 *
 * Each benchmark is a function `(args) => Promise<void>` registered below.
 */
const benchmarks: Record<string, { usage: string; run: (args: string[]) => Promise<unknown> }> = {
  export: {
    usage:
      'export [--profiles N] [--store sqlite|postgres] [--keep] [--cluster] [--changed F]   exports N generated profiles (default 1,000,000) through the whole stack and by a plain script; prints times, worker peak RSS, history events (the default). --changed F: then changes the first name of a share F of the profiles and runs again (incrementalSeconds, incrementalRequests). --cluster: on a Temporal server with PostgreSQL, two workers, the PostgreSQL store',
    run: (args) => runExportBench(args.includes('--cluster') ? clusterBenchOptions(args) : exportBenchOptions(args)),
  },
  import: {
    usage: 'import [--profiles N] [--stores sqlite,postgres]   imports N generated profiles (default 1,000,000) through the API; prints time and peak RSS',
    run: (args) => runImportBench(importBenchOptions(args)),
  },
  api: {
    usage: 'api [--profiles N] [--store sqlite|postgres] [--seconds S] [--connections C]   autocannon on /healthz, GET /v1/segments and GET /v1/runs/{id}, quiet and during an import, refreshes and an export run of N profiles (default 1,000,000); per route and phase: req/s, p50, p99, max, errors',
    run: (args) => runApiBench(apiBenchOptions(args)),
  },
  csv: {
    usage: 'csv [--rows N]   our CSV parser (common/csv.ts) against csv-parse on a profile import and a contact export CSV of N rows (default 1,000,000): correctness, time, peak RSS',
    run: (args) => runCsvBench(csvBenchOptions(args)),
  },
};

async function main(argv: string[]): Promise<number> {
  // No benchmark named (or only options): the export benchmark.
  const [name, ...args] = argv.length === 0 || argv[0].startsWith('--') ? ['export', ...argv] : argv;
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
