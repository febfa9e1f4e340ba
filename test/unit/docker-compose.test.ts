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

const compose = parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };

// Stand-ins for the ${VAR:?…} values an operator must provide.
const substitute = (value: string) =>
  String(value).replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
    if (name === 'SPILLWAY_SECRET_KEY') return 'a'.repeat(64);
    if (name === 'MINIO_ROOT_PASSWORD') return 'minio-secret';
    return fallback ?? '';
  });

t.test('the app service is configured only with known, valid variables', async (t) => {
  const app = compose.services.app;
  t.ok(app, 'app service exists');
  const env = app!.environment ?? {};
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
  const bucket = compose.services.app?.environment?.S3_BUCKET;
  t.match(JSON.stringify(compose.services['minio-init']), `local/${bucket}`, 'the bucket the app uses is created at start');
  const dbUrl = new URL(compose.services.app!.environment!.DATABASE_URL!);
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
  const mediaDir = compose.services.app?.environment?.MEDIA_DIR;
  t.equal(nginx?.environment?.SPILLWAY_MEDIA_DIR, mediaDir, 'nginx serves the directory the app writes media to');
  const appVolume = compose.services.app?.volumes?.[0]?.split(':');
  t.ok(nginx?.volumes?.some((v) => v.startsWith(`${appVolume?.[0]}:${appVolume?.[1]}`)), 'the same volume is mounted at the same path');
  t.equal(nginx?.environment?.SPILLWAY_APP, `app:${compose.services.app?.environment?.PORT}`, 'nginx proxies to the app port');
});
