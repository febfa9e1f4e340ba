// npm run bench:social — what followers and viewers cost, on PostgreSQL and Redis (a fresh database
// on TEST_DATABASE_URL's server, as the tests use; --embedded for PGlite and the in-process bus).
// 1. Going live with 100,000 followers against a channel with none, alternating, in the same run:
//    publish (ffmpeg starts) → watchable (the channel is live and its playlist has a part), and
//    stream.started → every follower's notification stored. Followers are inserted in bulk, users
//    and follows in one SQL statement.
// 2. 1,000 signed-in viewers, in a child process, each reporting its position every 5 s and a view
//    after 10 s: database statements per second for those reports and the server's CPU.
// Flags: --runs 3 --followers 100000 --viewers 1000 --seconds 40 --embedded
import { spawn } from 'node:child_process';
import os from 'node:os';
import { sql } from 'kysely';
import { TEST_REDIS_URL, createTestDatabase, uniquePrefix } from '../test/helpers/services.ts';
import { arg, median, newChannel, startBenchServer } from './bench-server.ts';

const runs = arg('runs', 3);
const followers = arg('followers', 100_000);
const viewerCount = arg('viewers', 1000);
const seconds = arg('seconds', 40);
const embedded = process.argv.includes('--embedded');
const cleanups: Array<() => unknown> = [];
const teardown = { teardown: (fn: () => unknown) => void cleanups.push(fn) };
const env = embedded ? {} : { DATABASE_URL: await createTestDatabase(teardown), REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix('bench-social') };
const { server, base, stop } = await startBenchServer({ LADDER: '', ...env });
const db = server.database.db;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`social bench: database ${server.database.kind}, bus ${embedded ? 'memory' : 'redis'}, jobs ${server.jobs.kind}; load average ${load()}`);

// --- 1. Going live with and without followers -------------------------------------------------
const quietUrl = await newChannel(server, 'quiet');
const bigUrl = await newChannel(server, 'popular');
const big = await db.selectFrom('channels').select('id').where('slug', '=', 'popular').executeTakeFirstOrThrow();
let t0 = performance.now();
await sql`
  with fans as (
    insert into users (username, email, password_hash)
    select 'fan' || i, 'fan' || i || '@bench.test', 'not-a-login' from generate_series(1, ${followers}) as i
    returning id
  ), followed as (
    insert into follows (user_id, channel_id) select id, ${big.id} from fans returning 1
  )
  insert into channel_stats (channel_id, follower_count) select ${big.id}, count(*) from followed
  on conflict (channel_id) do update set follower_count = excluded.follower_count`.execute(db);
console.log(`inserted ${followers} followers (users, follows and the count, one statement) in ${Math.round(performance.now() - t0)} ms`);

const startedAt = new Map<string, number>();
await server.bus.subscribe('stream.started', (m) => startedAt.set((m as { sessionId: string }).sessionId, performance.now()));

async function goLive(slug: string, url: string): Promise<{ watchableMs: number; sessionId: string; stop: () => Promise<void> }> {
  const begin = performance.now();
  const publisher = spawn('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ], { stdio: 'ignore' });
  const exited = new Promise((resolve) => publisher.on('exit', resolve));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${slug} did not become watchable`);
    const channel = (await server.app.inject({ url: `/api/v1/channels/${slug}` })).json();
    if (channel.live && channel.playbackUrl) {
      const media = await fetch(`${base}${channel.playbackUrl.replace(/master\.m3u8$/, 'source/index.m3u8')}`);
      if (media.ok && (await media.text()).includes('#EXT-X-PART:')) {
        return {
          watchableMs: performance.now() - begin,
          sessionId: channel.sessionId,
          stop: async () => {
            publisher.kill('SIGINT');
            await exited;
            await until(async () => !(await server.app.inject({ url: `/api/v1/channels/${slug}` })).json().live, 20_000);
          },
        };
      }
    }
    await sleep(20);
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

const quiet: number[] = [];
const popular: number[] = [];
const stored: number[] = [];
for (let i = 1; i <= runs; i++) {
  const a = await goLive('quiet', quietUrl);
  await a.stop();
  const b = await goLive('popular', bigUrl);
  const countFor = async () => Number((await db.selectFrom('notifications').select((eb) => eb.fn.countAll<string>().as('n')).where('subject_id', '=', b.sessionId).executeTakeFirstOrThrow()).n);
  await until(async () => (await countFor()) >= followers, 120_000);
  const storedMs = performance.now() - startedAt.get(b.sessionId)!;
  await b.stop();
  quiet.push(a.watchableMs);
  popular.push(b.watchableMs);
  stored.push(storedMs);
  console.log(`run ${i}: publish → watchable ${Math.round(a.watchableMs)} ms with no followers, ${Math.round(b.watchableMs)} ms with ${followers}; all ${followers} notifications stored ${Math.round(storedMs)} ms after stream.started`);
}
console.log(`median publish → watchable: ${Math.round(median(quiet))} ms (no followers), ${Math.round(median(popular))} ms (${followers} followers), difference ${Math.round(median(popular) - median(quiet))} ms`);
console.log(`median time until every notification is stored: ${Math.round(median(stored))} ms (${Math.round(followers / (median(stored) / 1000))} rows/s); load average ${load()}`);

// --- 2. 1,000 viewers reporting views and positions --------------------------------------------
const owner = await server.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username: 'vodowner', email: 'vodowner@bench.test', password: 'benchmark password' } });
const ownerChannel = await db.selectFrom('channels').select('id').where('owner_id', '=', owner.json().user.id).executeTakeFirstOrThrow();
const vodIds: string[] = [];
for (let i = 0; i < 20; i++) {
  const session = await db.insertInto('live_sessions').values({ channel_id: ownerChannel.id, ended_at: new Date(), end_reason: 'unpublished', renditions: '[]' }).returning('id').executeTakeFirstOrThrow();
  const vod = await db.insertInto('vods').values({ live_session_id: session.id, channel_id: ownerChannel.id, title: `Bench video ${i}`, status: 'ready', started_at: new Date(), duration_s: 3600, storage_prefix: `vods/${session.id}` }).returning('id').executeTakeFirstOrThrow();
  vodIds.push(vod.id);
}
t0 = performance.now();
const viewers: Array<{ token: string; vodId: string }> = [];
for (let i = 0; i < viewerCount; i += 8) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(8, viewerCount - i) }, (_, j) =>
      server.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username: `viewer${i + j}`, email: `viewer${i + j}@bench.test`, password: 'benchmark password' } }),
    ),
  );
  for (const [j, res] of batch.entries()) viewers.push({ token: res.json().accessToken, vodId: vodIds[(i + j) % vodIds.length]! });
}
console.log(`registered ${viewerCount} viewers in ${Math.round((performance.now() - t0) / 1000)} s`);

const writesBefore = server.social.recorder.stats.writes;
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const child = spawn(process.execPath, ['--import', 'tsx', new URL('./social-load.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
child.stdin.end(JSON.stringify({ base, seconds, viewers }));
let out = '';
child.stdout.on('data', (d) => (out += d));
await new Promise((resolve) => child.on('exit', resolve));
await server.social.recorder.flush();
const wallS = (performance.now() - wallBefore) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const result = JSON.parse(out) as { requests: number; failures: number; statusCounts: Record<string, number> };
const writes = server.social.recorder.stats.writes - writesBefore;
const historyRows = Number((await db.selectFrom('watch_history').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
const views = await db.selectFrom('vod_stats').select((eb) => eb.fn.sum<string>('view_count').as('n')).executeTakeFirstOrThrow();
console.log(`${viewerCount} viewers for ${seconds} s: ${result.requests} reports (${Math.round(result.requests / wallS)}/s), ${result.failures} failed ${JSON.stringify(result.statusCounts)}`);
console.log(`database: ${writes} write statements in ${wallS.toFixed(1)} s = ${(writes / wallS).toFixed(2)}/s; ${historyRows} watch-history rows, ${views.n} views counted`);
console.log(`server CPU (this process, load generator excluded): ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over ${wallS.toFixed(1)} s = ${(((cpu.user + cpu.system) / 1e6 / wallS) * 100).toFixed(1)} % of one core; load average ${load()}`);

await stop();
for (const fn of cleanups.reverse()) await fn();
process.exit(0);
