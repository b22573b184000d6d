import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cluster = require('../../scripts/cluster.js') as {
  TEMPORAL_DIR: string;
  DEFAULT_DATABASES: { temporal: string; visibility: string };
  serverPorts(frontendPort: number): Record<string, number>;
  serverEnvironment(o: { ports: Record<string, number>; databaseUrl?: string }): Record<string, string>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverBuild = require('../../scripts/temporal-server.js') as { SERVER_VERSION: string; UI_VERSION: string; binaries(): { server: string } };

/**
 * docker-compose.yml and `npm run cluster` run one Temporal server configuration: the template
 * docker/temporal/config/segment-export.yaml, started by docker/temporal/start-server.sh, after the
 * same schema and namespace scripts. These checks keep the two in agreement; the last renders the
 * template with the real server binary for each of them.
 */

const root = path.resolve(__dirname, '../..');
const temporalDir = path.join(root, 'docker/temporal');
const template = fs.readFileSync(path.join(temporalDir, 'config/segment-export.yaml'), 'utf8');
const startScript = fs.readFileSync(path.join(temporalDir, 'start-server.sh'), 'utf8');

type Service = { image?: string; entrypoint?: string[]; environment?: Record<string, string | number>; volumes?: string[] };
const services = (YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> }).services;

/** Variables the server reads: the template's `env "NAME"` and the start script's `${NAME…}`. */
const readByServer = new Set([...template.matchAll(/env "([A-Z0-9_]+)"/g), ...startScript.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));

function composeServerEnvironment(): Record<string, string> {
  const env = services.temporal.environment ?? {};
  // `${VAR:?message}` becomes a stand-in, as docker compose would put the value from .env there.
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{(\w+)[^}]*\}/g, (_m, name: string) => `stand-in-${name.toLowerCase()}`)]));
}

/** `temporal-server render-config` of the template under `env`: the configuration the server would run. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function render(env: Record<string, string>): any {
  const out = execFileSync(serverBuild.binaries().server, ['--config', path.join(temporalDir, 'config'), '--env', 'segment-export', 'render-config'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return YAML.parse(out);
}

describe('one Temporal server configuration for docker-compose.yml and npm run cluster', () => {
  it('the compose temporal service starts the server with the folder npm run cluster uses', () => {
    expect(cluster.TEMPORAL_DIR).toBe(temporalDir);
    const mount = services.temporal.volumes?.find((v) => v.startsWith('./docker/temporal:'));
    expect(mount).toBe('./docker/temporal:/etc/temporal/segment-export:ro');
    expect(services.temporal.entrypoint).toEqual(['/bin/sh', '/etc/temporal/segment-export/start-server.sh']);
    expect(startScript).toMatch(/--config config --env segment-export/);
  });

  it('the schema and namespace jobs of compose run the scripts npm run cluster runs, with the same database names', () => {
    expect(services['temporal-schema'].entrypoint).toEqual(['/bin/sh', '/setup/setup-schema.sh']);
    expect(services['temporal-setup'].entrypoint).toEqual(['/bin/sh', '/setup/setup-namespace.sh']);
    for (const job of ['temporal-schema', 'temporal-setup']) expect(services[job].volumes).toContain('./docker/temporal:/setup:ro');
    const schemaScript = fs.readFileSync(path.join(temporalDir, 'setup-schema.sh'), 'utf8');
    expect(schemaScript).toContain(`DBNAME="\${DBNAME:-${cluster.DEFAULT_DATABASES.temporal}}"`);
    expect(schemaScript).toContain(`VISIBILITY_DBNAME="\${VISIBILITY_DBNAME:-${cluster.DEFAULT_DATABASES.visibility}}"`);
    expect(template).toContain(`env "DBNAME" | default "${cluster.DEFAULT_DATABASES.temporal}"`);
    expect(template).toContain(`env "VISIBILITY_DBNAME" | default "${cluster.DEFAULT_DATABASES.visibility}"`);
  });

  it('both run the versions npm run cluster builds: server 1.29.1, UI 2.42.1', () => {
    expect(services.temporal.image).toBe(`temporalio/server:${serverBuild.SERVER_VERSION}`);
    expect(services['temporal-ui'].image).toBe(`temporalio/ui:${serverBuild.UI_VERSION}`);
    expect(services['temporal-schema'].image).toMatch(new RegExp(`^temporalio/admin-tools:${serverBuild.SERVER_VERSION.replace(/\./g, '\\.')}-`));
  });

  it('sets only variables the server configuration reads, in compose and in npm run cluster', () => {
    const clusterEnv = cluster.serverEnvironment({ ports: cluster.serverPorts(7233) });
    expect(Object.keys(composeServerEnvironment()).filter((k) => !readByServer.has(k))).toEqual([]);
    expect(Object.keys(clusterEnv).filter((k) => !readByServer.has(k))).toEqual([]);
  });

  it('renders to the same server configuration for both, but for addresses, ports and the log level', () => {
    const compose = render(composeServerEnvironment());
    const local = render(cluster.serverEnvironment({ ports: cluster.serverPorts(27233), databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' }));

    expect(compose.persistence.datastores['postgres-default'].sql).toMatchObject({ pluginName: 'postgres12', connectAddr: 'postgresql:5432', user: 'segment_export', databaseName: 'temporal' });
    expect(local.persistence.datastores['postgres-default'].sql).toMatchObject({ pluginName: 'postgres12', connectAddr: '127.0.0.1:5432', user: 'postgres', databaseName: 'temporal' });
    expect(compose.services.frontend.rpc).toMatchObject({ grpcPort: 7233, bindOnIP: '0.0.0.0' });
    expect(local.services.frontend.rpc).toMatchObject({ grpcPort: 27233, bindOnIP: '127.0.0.1' });

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const withoutAddresses = (config: any) => {
      for (const store of Object.values(config.persistence.datastores) as { sql: Record<string, unknown> }[]) {
        delete store.sql.connectAddr;
        delete store.sql.user;
      }
      for (const service of Object.values(config.services) as { rpc: Record<string, unknown> }[]) {
        for (const key of ['grpcPort', 'membershipPort', 'httpPort', 'bindOnIP']) delete service.rpc[key];
      }
      delete config.clusterMetadata.clusterInformation.active.rpcAddress;
      delete config.clusterMetadata.clusterInformation.active.httpAddress;
      delete config.log.level;
      return config;
    };
    expect(withoutAddresses(local)).toEqual(withoutAddresses(compose));
    expect(Object.keys(compose.services).sort()).toEqual(['frontend', 'history', 'matching', 'worker']);
  });
});
