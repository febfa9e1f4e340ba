// Docker does not run on these machines, so the compose file is kept honest by reading it: every
// variable the app gets is one the config knows and accepts, and every dependency is healthy-gated.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { parse } from 'yaml';
import { CONFIG_VARS, loadConfig } from '../../src/config.ts';

interface Service {
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: unknown };
  volumes?: string[];
  image?: string;
  build?: string;
}

// merge: the app nodes share their settings through YAML merge keys (<<), as Compose reads them.
const compose = parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const appNodes = Object.entries(compose.services).filter(([name]) => /^app\d*$/.test(name));

// Stand-ins for the ${VAR:?…} values an operator must provide.
const substitute = (value: string) =>
  String(value).replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
    if (name === 'SPILLWAY_SECRET_KEY') return 'a'.repeat(64);
    if (name === 'MINIO_ROOT_PASSWORD') return 'minio-secret';
    return fallback ?? '';
  });

t.test('every app node is configured only with known, valid variables', async (t) => {
  t.ok(appNodes.length >= 2, 'several app nodes');
  const ids = new Set(appNodes.map(([, app]) => app.environment?.NODE_ID));
  t.equal(ids.size, appNodes.length, 'each node has its own NODE_ID');
  for (const [name, app] of appNodes) {
    t.equal(app.environment?.NODE_URL, `http://${name}:${app.environment?.PORT}`, `${name}: other nodes reach it at its service name`);
    t.ok(app.volumes?.[0]?.startsWith(`${name}-data:`), `${name}: its own data and media volume`);
  }
  const secrets = new Set(appNodes.map(([, app]) => app.environment?.SECRET_KEY));
  t.equal(secrets.size, 1, 'the nodes share one SECRET_KEY');
  const env = appNodes[0]![1].environment ?? {};
  for (const name of Object.keys(env)) t.ok(name in CONFIG_VARS, `${name} is a config variable`);
  const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, substitute(v)])));
  t.ok(config.databaseUrl?.includes('@postgres:5432/'), 'database is the postgres service');
  t.equal(config.redisUrl, 'redis://redis:6379', 'bus is the redis service');
  t.equal(config.s3?.endpoint, 'http://minio:9000', 'storage is the minio service');
  t.equal(config.s3?.forcePathStyle, true, 'MinIO needs path-style addressing');
  t.ok(config.secretKey, 'a secret key is required, not generated per container');
  t.ok(env.SECRET_KEY?.includes(':?'), 'compose refuses to start without SPILLWAY_SECRET_KEY');
});

t.test('every dependency exists and is waited for', async (t) => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
      const target = compose.services[dep];
      t.ok(target, `${name} depends on ${dep}, which exists`);
      if (condition === 'service_healthy') t.ok(target?.healthcheck, `${dep} has the healthcheck ${name} waits on`);
      else t.equal(condition, 'service_completed_successfully', `${name} waits for ${dep} to finish`);
    }
  }
  for (const name of ['postgres', 'redis', 'minio']) {
    t.ok(compose.services[name]?.healthcheck, `${name} has a healthcheck`);
    const named = (compose.services[name]?.volumes ?? []).map((v) => v.split(':')[0]!);
    t.ok(named.length > 0 && named.every((v) => v in compose.volumes), `${name} keeps its data in a named volume`);
  }
  const app = appNodes[0]![1];
  const bucket = app.environment?.S3_BUCKET;
  t.match(JSON.stringify(compose.services['minio-init']), `local/${bucket}`, 'the bucket the app uses is created at start');
  const dbUrl = new URL(app.environment!.DATABASE_URL!);
  const pgEnv = compose.services.postgres!.environment!;
  t.equal(dbUrl.username, pgEnv.POSTGRES_USER);
  t.equal(dbUrl.pathname.slice(1), pgEnv.POSTGRES_DB);
});

t.test('nginx gets every placeholder of nginx.conf and the media the app writes', async (t) => {
  const nginx = compose.services.nginx;
  t.ok(nginx, 'nginx service exists');
  const template = await readFile(new URL('../../nginx.conf', import.meta.url), 'utf8');
  const placeholders = new Set([...template.matchAll(/\$\{(SPILLWAY_[A-Z_]+)\}/g)].map((m) => m[1]!));
  t.ok(placeholders.size >= 4);
  for (const name of placeholders) t.ok(nginx?.environment?.[name], `${name} is set for nginx`);
  const upstream = nginx?.environment?.SPILLWAY_UPSTREAM ?? '';
  for (const [name, node] of appNodes) t.match(upstream, `server ${name}:${node.environment?.PORT};`, `the edge sends requests to ${name}`);
  // An edge of several nodes shares no node's disk: media come through its cache.
  const mediaVolumes = appNodes.map(([, node]) => node.volumes?.[0]?.split(':')[0]);
  t.notOk(nginx?.volumes?.some((v) => mediaVolumes.includes(v.split(':')[0])), "nginx mounts no node's media volume");
});
