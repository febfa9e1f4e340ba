// Faults between two nodes: A cut off from PostgreSQL for 10 s, then from Redis for 10 s, while it
// streams. Its stream keeps playing, no node ends it by mistake, and what crosses nodes (viewer
// counts, revocations) works again by itself afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import t, { type Test } from 'tap';
import { until } from '../helpers/media.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';
import { publish } from '../helpers/publisher.ts';
import { TEST_REDIS_URL, createTestDatabase, tempDir, uniquePrefix } from '../helpers/services.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

const OUTAGE_MS = 10_000;

t.test('a node cut off from PostgreSQL, then from Redis, for 10 s each', async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const pgUrl = new URL(databaseUrl);
  const redisUrl = new URL(TEST_REDIS_URL);
  const pgProxy = await startTcpProxy(t, { host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
  const redisProxy = await startTcpProxy(t, { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  const viaProxy = (url: URL, port: number) => Object.assign(new URL(url), { host: `127.0.0.1:${port}` }).toString();
  const shared = {
    HOST: '127.0.0.1',
    PORT: '0',
    RTMP_PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix('faults'),
    SECRET_KEY: randomBytes(32).toString('hex'),
    LADDER: '',
    // The default lease: a 10 s outage must fit inside it.
    LIVE_LEASE_S: '15',
    LOG_LEVEL: 'info',
  };
  const a = await startNode(t, { ...shared, DATA_DIR: await tempDir(t, 'fault-a'), NODE_ID: 'node-a', DATABASE_URL: viaProxy(pgUrl, pgProxy.port), REDIS_URL: viaProxy(redisUrl, redisProxy.port) });
  const b = await startNode(t, { ...shared, DATA_DIR: await tempDir(t, 'fault-b'), NODE_ID: 'node-b' });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());

  const post = (node: NodeProcess, url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${node.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const reg = await post(b, '/api/v1/auth/register', { username: 'alice', email: 'alice@example.test', password: 'correct horse battery' });
  const auth = { authorization: `Bearer ${reg.body.accessToken}` };
  const { streamKey } = await (await fetch(`${b.url}/api/v1/channels/alice/stream-key`, { headers: auth })).json();
  const publisher = publish(t, `rtmp://127.0.0.1:${a.rtmpPort}/live/${streamKey}`, { seconds: 300 });
  const live = await until(async () => {
    const c = await (await fetch(`${b.url}/api/v1/channels/alice`)).json();
    return c.live ? c : null;
  }, 'the stream on A', 45_000, 200);
  const playlist = `${a.url}/hls/${live.sessionId}/source/index.m3u8`;
  // The number of the newest listed part: part file numbers only ever grow. (A sum of counts of
  // tags, as this was, can come out equal across a second in which parts were added and a
  // segment's parts left the playlist.)
  const edgeOf = async () => {
    const text = await (await fetch(playlist)).text();
    return Math.max(-1, ...[...text.matchAll(/#EXT-X-PART:[^\n]*URI="part-(\d+)\.m4s"/g)].map((m) => Number(m[1])));
  };
  const keepsAdvancing = async (t: Test, what: string) => {
    // Over the whole outage, the owner's playlist keeps moving (sampled every second).
    const deadline = Date.now() + OUTAGE_MS;
    let last = await edgeOf();
    let stuck = 0;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await edgeOf();
      if (now === last) stuck++;
      last = now;
    }
    t.ok(stuck <= 2, `${what}: A's playlist kept advancing (${stuck} of ~10 one-second samples without a new part)`);
  };
  const session = async () => (await db.query('select ended_at, end_reason from live_sessions where id = $1', [live.sessionId])).rows[0];

  await t.test('PostgreSQL unreachable from A for 10 s', async (t) => {
    pgProxy.cut();
    await keepsAdvancing(t, 'database cut');
    pgProxy.restore();
    t.equal((await session()).ended_at, null, 'no node ended the session: A renewed its lease once the database was back');
    await until(async () => /renewing live session leases failed/.test(a.output()), 'A to have logged its failed renewals', 5000, 100);
    await new Promise((r) => setTimeout(r, 4000));
    t.equal((await session()).ended_at, null, 'still live a lease renewal later');
    t.equal(publisher.child.exitCode, null, "A's publisher is still connected");
  });

  await t.test('Redis unreachable from A for 10 s', async (t) => {
    redisProxy.cut();
    await keepsAdvancing(t, 'bus cut');
    redisProxy.restore();
    t.equal((await session()).ended_at, null, 'the session is still live');
    // Viewer counts cross nodes again: a viewer on B is counted by A and reported by B.
    const count = await until(async () => {
      await fetch(`${b.url}/hls/${live.sessionId}/source/index.m3u8`).then((r) => r.text());
      const c = await (await fetch(`${b.url}/api/v1/channels/alice`)).json();
      return c.viewers >= 1 ? c.viewers : null;
    }, 'viewer counts to cross nodes again', 20_000, 500);
    t.ok(count >= 1, 'viewer counts recover');
    // Revocations cross nodes again: rotating the key on B drops A's publisher.
    const rotated = await until(async () => {
      const r = await post(b, '/api/v1/channels/alice/stream-key', {}, auth);
      const dropped = await Promise.race([publisher.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
      return r.status === 200 && dropped;
    }, "a key rotation on B to drop A's publisher", 30_000, 0);
    t.ok(rotated, "a rotation on B ends A's stream: revocations recovered");
    const ended = await until(async () => ((await session()).ended_at ? session() : null), 'the session to end', 10_000, 100);
    t.equal(ended.end_reason, 'key-rotated');
  });
});
