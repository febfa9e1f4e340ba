import { spawn } from 'node:child_process';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { createServer } from '../../src/main.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { until } from '../helpers/media.ts';
import { tempDir } from '../helpers/services.ts';

t.test('embedded defaults: PGlite, in-process bus, local storage', async (t) => {
  const dataDir = await tempDir(t, 'embedded');
  const server = await createServer(loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), createLogger('silent'));
  t.teardown(() => server.close());
  t.equal(server.database.kind, 'pglite');
  const session = await registerUser(server, 'embedded');
  const key = await server.app.inject({ url: '/api/v1/channels/embedded/stream-key', headers: { authorization: `Bearer ${session.accessToken}` } });
  t.equal(key.statusCode, 200);
  t.equal((await server.channels.verifyStreamKey(key.json().streamKey))?.slug, 'embedded');
  const ready = await server.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json().checks, { database: 'ok', bus: 'ok' });
});

t.test('health, readiness, metrics and the OpenAPI document', async (t) => {
  const server = await startTestServer(t);
  const { app } = server;
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200);

  await app.inject({ url: '/api/v1/channels/nobody' });
  const metrics = await app.inject({ url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /spillway_http_requests_total\{method="GET",route="\/api\/v1\/channels\/:slug",status="404"\} 1/, 'requests counted by route pattern');
  t.match(metrics.body, /spillway_http_request_duration_seconds_bucket/, 'latency histogram');
  t.match(metrics.body, /spillway_process_cpu_seconds_total/, 'process metrics');

  const docs = await app.inject({ url: '/api/docs/json' });
  t.equal(docs.statusCode, 200);
  const doc = docs.json();
  t.equal(doc.openapi.slice(0, 2), '3.');
  for (const path of ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/channels/{slug}/stream-key']) t.ok(doc.paths[path], `${path} documented`);
  t.ok(doc.paths['/api/v1/auth/register'].post.responses['409'], 'error responses documented');
});

t.test('readiness fails when the bus is unreachable', async (t) => {
  const server = await startTestServer(t, { REDIS_URL: 'redis://127.0.0.1:1' });
  const res = await server.app.inject({ url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.same(res.json().checks, { database: 'ok', bus: 'unavailable' });
  t.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200, 'the process itself is still healthy');
});

function runMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

t.test('the server process: a bad setting stops it with a message naming the variable', async (t) => {
  const run = runMain({ PORT: 'eighty', DATA_DIR: await tempDir(t) });
  t.equal(await run.exited, 2);
  t.match(run.output(), /configuration error: PORT: expected a whole number/);
});

t.test('the server process starts with embedded defaults and shuts down cleanly on SIGTERM', async (t) => {
  const dataDir = await tempDir(t);
  const run = runMain({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => run.child.kill('SIGKILL'));
  const url = await until(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(run.output())?.[1], 'the server to log its URL', 60_000, 100);
  t.ok(url, 'it logs the URL it listens on');
  const res = await fetch(`${url}/healthz`);
  t.equal(res.status, 200);
  run.child.kill('SIGTERM');
  t.equal(await run.exited, 0, 'exit code 0 after SIGTERM');
  t.match(run.output(), /shutting down/);
});
