import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { exportBenchOptions, type BenchTemporal, type ExportBenchOptions } from './export';

/**
 * `npm run bench -- --cluster [--profiles N]`: the export benchmark on the scaled-out topology —
 * Temporal's own server on PostgreSQL (persistence and visibility, as `npm run cluster` runs it, in
 * databases of the bench's own, dropped after), two workers, the PostgreSQL store.
 */

interface TemporalCluster {
  address: string;
  stop(): Promise<void>;
}

function findScripts(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'scripts', 'cluster.js'))) return path.join(d, 'scripts');
    if (path.dirname(d) === d) throw new Error('scripts/cluster.js not found above the bench');
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterScripts = require(path.join(findScripts(__dirname), 'cluster.js')) as {
  freeServerPorts(): Promise<Record<string, number>>;
  startTemporalCluster(o: Record<string, unknown>): Promise<TemporalCluster>;
};

async function dropDatabases(databaseUrl: string, names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** `--cluster` among the export benchmark's options: the PostgreSQL store, two workers, a Temporal server on PostgreSQL. */
export function clusterBenchOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ExportBenchOptions {
  const options = exportBenchOptions(args.filter((a) => a !== '--cluster'), env);
  const suffix = randomBytes(4).toString('hex');
  const databases = { temporal: `bench_temporal_${suffix}`, visibility: `bench_temporal_vis_${suffix}` };
  const startTemporal = async (dir: string, log: (line: string) => void): Promise<BenchTemporal> => {
    const cluster = await clusterScripts.startTemporalCluster({
      databaseUrl: options.databaseUrl,
      databases,
      ports: await clusterScripts.freeServerPorts(),
      logDir: dir,
      watchOwner: process.pid,
      log: (m: string) => log(`[cluster] ${m}`),
    }).catch(async (err: unknown) => {
      await dropDatabases(options.databaseUrl, Object.values(databases));
      throw err;
    });
    return {
      address: cluster.address,
      description: `Temporal server on PostgreSQL (databases ${databases.temporal}, ${databases.visibility})`,
      stop: async () => {
        await cluster.stop();
        await dropDatabases(options.databaseUrl, Object.values(databases));
      },
    };
  };
  return { ...options, store: 'postgres', workers: 2, startTemporal };
}
