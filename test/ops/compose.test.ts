import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { envSchema } from '../../common/config';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SEARCH_ATTRIBUTES } = require('../../scripts/temporal.js');

/**
 * docker-compose.yml cannot run here (no Docker engine); these checks keep it consistent with the
 * code: the application services set only variables common/config.ts reads, the services exist,
 * and the Temporal setup registers the same search attributes as the dev server.
 */
const root = path.resolve(__dirname, '../..');
const composeText = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  container_name?: string;
  environment?: Record<string, string | number | boolean> | string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  entrypoint?: string[];
  ports?: string[];
};
const compose = YAML.parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const appServices = Object.entries(services).filter(([, s]) => s.build || s.image?.startsWith('segment-export'));
const configKeys = new Set(Object.keys(envSchema.shape));

function environment(s: Service): Record<string, string> {
  if (!s.environment) return {};
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)]));
}

/** `${VAR:-default}` → default, `${VAR:?message}` / `${VAR}` → a stand-in value. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => (op === '-' ? (arg ?? '') : `stand-in-${name.toLowerCase()}`));
}

describe('docker-compose.yml', () => {
  it('has PostgreSQL, Temporal with its schema and namespace jobs, the Temporal UI, the worker and the API', () => {
    for (const name of ['postgresql', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui', 'worker', 'api', 'prometheus', 'grafana']) {
      expect(Object.keys(services)).toContain(name);
    }
    expect(appServices.map(([name]) => name).sort()).toEqual(['api', 'worker']);
  });

  it('runs a PostgreSQL-backed Temporal server 1.29.x (the dev server version), not the deprecated auto-setup image', () => {
    expect(services.temporal.image).toMatch(/^temporalio\/server:1\.29\.\d+$/);
    expect(services.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:1\.29\./);
    expect(services['temporal-setup'].image).toMatch(/^temporalio\/admin-tools:1\.29\./);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
    expect(composeText).not.toMatch(/image:\s*temporalio\/auto-setup/);
  });

  it('configures the worker and the API only with variables common/config.ts knows', () => {
    for (const [name, service] of appServices) {
      const unknown = Object.keys(environment(service)).filter((k) => !configKeys.has(k));
      expect([name, unknown]).toEqual([name, []]);
    }
  });

  it('gives the app services values the config schema accepts', () => {
    for (const [, service] of appServices) {
      const env = Object.fromEntries(Object.entries(environment(service)).map(([k, v]) => [k, interpolate(v)]));
      // Stand-ins for the secrets a deployer provides in .env.
      env.SECRETS_KEY = 'ab'.repeat(32);
      if (env.API_KEYS) env.API_KEYS = `admin:${'a'.repeat(20)},contributor:${'c'.repeat(20)}`;
      env.PUBLIC_BASE_URL = 'https://segment-export.example.com';
      const parsed = envSchema.safeParse(env);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it('points the app at the compose PostgreSQL and Temporal services', () => {
    for (const [, service] of appServices) {
      const env = environment(service);
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      const db = new URL(interpolate(env.DATABASE_URL));
      expect(db.protocol).toBe('postgres:');
      expect(Object.keys(services)).toContain(db.hostname);
      expect(service.depends_on?.['temporal-setup']?.condition).toBe('service_completed_successfully');
    }
  });

  it('lets the worker scale: no container_name, several replicas', () => {
    expect(services.worker.container_name).toBeUndefined();
    expect(services.worker.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services.worker.ports).toBeUndefined();
  });

  it('starts the entry points that exist in the sources, from an image built by docker/Dockerfile', () => {
    for (const [, service] of appServices) {
      expect(fs.existsSync(path.join(root, service.build!.context, service.build!.dockerfile))).toBe(true);
      const entry = service.command!.find((a) => a.startsWith('dist/'))!;
      expect(fs.existsSync(path.join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect([volume, fs.existsSync(path.join(root, source))]).toEqual([volume, true]);
      }
    }
  });

  it('has Prometheus scrape the API with METRICS_TOKEN and every worker on its WORKER_METRICS_ADDRESS port, and Grafana show it', () => {
    const prometheus = YAML.parse(fs.readFileSync(path.join(root, 'docker/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; authorization?: { credentials_file: string }; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((j) => [j.job_name, j]));
    const api = jobs['segment-export-api'];
    expect(api.static_configs?.[0].targets).toEqual([`api:${environment(services.api).PORT}`]);
    expect(api.authorization?.credentials_file).toBe('/tmp/metrics-token');
    expect(services.prometheus.entrypoint?.join(' ')).toContain('> /tmp/metrics-token');
    expect(environment(services.prometheus).METRICS_TOKEN).toBe(environment(services.api).METRICS_TOKEN);
    const worker = jobs['segment-export-worker'];
    expect(worker.dns_sd_configs?.[0].names).toEqual(['worker']);
    expect(`0.0.0.0:${worker.dns_sd_configs?.[0].port}`).toBe(environment(services.worker).WORKER_METRICS_ADDRESS);
    expect(services.grafana.volumes).toEqual(expect.arrayContaining(['./docker/grafana/dashboards:/var/lib/grafana/dashboards:ro']));
  });

  it('registers the same search attributes as the dev server', () => {
    const script = fs.readFileSync(path.join(root, 'docker/temporal/setup-namespace.sh'), 'utf8');
    const loop = /for name in ([\w ]+); do/.exec(script);
    expect(loop?.[1].trim().split(/\s+/).sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
    expect(Object.values(SEARCH_ATTRIBUTES).every((t) => t === 'Keyword')).toBe(true);
  });

  it('publishes the Temporal UI on loopback only, read-only, unless the operator opts in', () => {
    const ui = services['temporal-ui'];
    const published = (ui.ports ?? []).map(interpolate);
    expect(published).toEqual(['127.0.0.1:8233:8080']);
    expect(interpolate(String(environment(ui).TEMPORAL_DISABLE_WRITE_ACTIONS))).toBe('true');
    expect(interpolate(String(environment(ui).TEMPORAL_AUTH_ENABLED))).toBe('false');
    // Every published port of the stack is on loopback, but the API's (behind a TLS proxy).
    for (const [name, service] of Object.entries(services)) {
      if (name === 'api') continue;
      for (const port of service.ports ?? []) expect([name, interpolate(port)]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
    }
  });

  it('documents in docker/example.env every variable it interpolates', () => {
    const example = fs.readFileSync(path.join(root, 'docker/example.env'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    const used = new Set([...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
    expect([...used].filter((v) => !documented.has(v))).toEqual([]);
  });
});

describe('docker/temporal/setup-namespace.sh', () => {
  it('creates the namespace and registers the search attributes, and is safe to run again', async () => {
    const { testTemporal, temporalCliJson } = await import('../helpers/temporal');
    const os = await import('node:os');
    const { execFileSync } = await import('node:child_process');
    const t = testTemporal();
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-setup-'));
    try {
      // The admin-tools image has `temporal` on PATH; so does this run.
      fs.symlinkSync(t.cli, path.join(bin, 'temporal'));
      const namespace = `compose-probe-${Date.now()}`;
      const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, TEMPORAL_ADDRESS: t.address, TEMPORAL_NAMESPACE: namespace };
      const script = path.join(root, 'docker/temporal/setup-namespace.sh');
      expect(execFileSync('sh', [script], { env, encoding: 'utf8' })).toContain(`namespace ${namespace} is ready`);
      expect(execFileSync('sh', [script], { env, encoding: 'utf8' })).toContain('search attribute ExportId exists');
      const list = await temporalCliJson<{ customAttributes: Record<string, string> }>(['operator', 'search-attribute', 'list', '--namespace', namespace]);
      expect(Object.keys(list.customAttributes).sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
