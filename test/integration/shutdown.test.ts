// A node stopped on purpose (SIGTERM: a deploy, `systemctl restart`) while a channel is live must
// say so before it lets go of the database and the bus: the session ends as `server-shutdown` and
// stream.ended is announced, not a row left live for the next start or another node's lease sweep
// to call `node-lost` later, and the recording is a VOD by the time the process is gone. Both
// deployments: PostgreSQL with Redis, and the embedded defaults.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { CompiledQuery } from 'kysely';
import t, { type Test } from 'tap';
import { openPglite } from '../../src/db/database.ts';
import { until } from '../helpers/media.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';
import { publish } from '../helpers/publisher.ts';
import { TEST_REDIS_URL, createTestDatabase, freePort, tempDir, uniquePrefix } from '../helpers/services.ts';

/** Starts a node, makes a channel and puts it live; returns the node and the live session's id. */
async function liveNode(t: Test, services: Record<string, string>): Promise<{ node: NodeProcess; sessionId: string; dataDir: string; liveSeconds: number; media: URL }> {
  const dataDir = await tempDir(t, 'shutdown');
  const node = await startNode(t, {
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    RTMP_PORT: '0',
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    LADDER: '',
    LOG_LEVEL: 'info',
    ...services,
  });
  const reg = await fetch(`${node.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'stopper', email: 'stopper@example.test', password: 'correct horse battery' }),
  });
  t.equal(reg.status, 201);
  const { accessToken } = (await reg.json()) as { accessToken: string };
  const keyRes = await fetch(`${node.url}/api/v1/channels/stopper/stream-key`, { headers: { authorization: `Bearer ${accessToken}` } });
  const { streamKey } = (await keyRes.json()) as { streamKey: string };
  publish(t, `rtmp://127.0.0.1:${node.rtmpPort}/live/${streamKey}`, { seconds: 120 });
  const live = await until(async () => {
    const channel = (await (await fetch(`${node.url}/api/v1/channels/stopper`)).json()) as { live: boolean; sessionId?: string };
    return channel.live ? channel : null;
  }, 'the channel to go live', 60_000, 200);
  // Two whole segments in the live playlist, so the VOD has something to hold.
  const master = await (await fetch(`${node.url}/hls/${live.sessionId}/master.m3u8`)).text();
  const media = new URL(master.split('\n').find((l) => l && !l.startsWith('#'))!, `${node.url}/hls/${live.sessionId}/master.m3u8`);
  const liveSeconds = await until(async () => {
    const durations = [...(await (await fetch(media)).text()).matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    return durations.length >= 2 ? durations.reduce((a, b) => a + b, 0) : null;
  }, 'two segments in the live playlist', 60_000, 200);
  return { node, sessionId: live.sessionId!, dataDir, liveSeconds, media };
}

function failures(node: NodeProcess): string[] {
  return node.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
}

/** The first row of a query, on whichever database the node used. */
type FirstRow = (text: string, params: unknown[]) => Promise<Record<string, unknown> | undefined>;

/** What a stopped node must have left in its database: the session ended, the recording a VOD. */
async function checkEndedAndRecorded(t: Test, first: FirstRow, sessionId: string, liveSeconds: number): Promise<void> {
  const row = await first('select ended_at, end_reason from live_sessions where id = $1', [sessionId]);
  t.not(row!.ended_at, null, 'the session row has ended by the time the process is gone');
  t.equal(row!.end_reason, 'server-shutdown', 'and says why');
  const vod = await first('select status, duration_s from vods where live_session_id = $1', [sessionId]);
  t.equal(vod?.status, 'ready', 'the recording is a VOD already, not one left for the next start to finish');
  t.ok(Number(vod?.duration_s) >= liveSeconds, `it holds at least the ${liveSeconds} s the live playlist listed (${vod?.duration_s} s)`);
}

t.test('with PostgreSQL and Redis: the session ends as server-shutdown, stream.ended goes out and the VOD is ready before the node exits', async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const prefix = uniquePrefix('shutdown');
  // What followers, webhooks and the other nodes hear: the bus's stream.ended.
  const listener = new Redis(TEST_REDIS_URL);
  t.teardown(() => listener.quit());
  const heard: { sessionId: string; reason: string }[] = [];
  listener.on('message', (_channel, message: string) => heard.push(JSON.parse(message)));
  await listener.subscribe(`${prefix}stream.ended`);
  const { node, sessionId, liveSeconds } = await liveNode(t, { DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix });

  t.equal(await node.stop(), 0, 'the node exits with code 0');
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  await checkEndedAndRecorded(t, async (text, params) => (await db.query(text, params)).rows[0], sessionId, liveSeconds);
  const ended = await until(() => heard.find((m) => m.sessionId === sessionId), 'stream.ended on the bus', 5000, 50);
  t.equal(ended.reason, 'server-shutdown', 'the end is announced on the bus before the node lets go of Redis');
  t.same(failures(node), [], 'nothing failed on the way out');
});

/**
 * A viewer's player holding a blocking reload for a part about 1.5 s ahead of the newest one,
 * counted by the node as waiting before this resolves.
 */
async function heldReload(node: NodeProcess, media: URL): Promise<{ answer: Promise<{ status: number; text: string }> }> {
  const playlist = await (await fetch(media)).text();
  const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)![1]) + (playlist.match(/#EXTINF/g)?.length ?? 0);
  // Parts per segment, from the last whole segment's duration; parts of the segment being written.
  const perSegment = Math.round(Number([...playlist.matchAll(/#EXTINF:([\d.]+)/g)].at(-1)![1]) / Number(/PART-TARGET=([\d.]+)/.exec(playlist)![1]));
  const written = playlist.slice(playlist.lastIndexOf(`seg-${msn - 1}.m4s`)).match(/#EXT-X-PART:/g)?.length ?? 0;
  const ahead = 15;
  const target = written + ahead - 1 < perSegment ? { msn, part: written + ahead - 1 } : { msn: msn + 1, part: written + ahead - 1 - perSegment };
  const answer = fetch(`${media}?_HLS_msn=${target.msn}&_HLS_part=${target.part}`).then(async (r) => ({ status: r.status, text: await r.text() }));
  await until(async () => /^spillway_playlist_requests_waiting [1-9]/m.test(await (await fetch(`${node.url}/metrics`)).text()), 'the reload to be held', 5000, 20);
  return { answer };
}

t.test('with the embedded defaults: the session ends as server-shutdown and its VOD is ready in PGlite before the node exits', async (t) => {
  const { node, sessionId, dataDir, liveSeconds, media } = await liveNode(t, {});
  const held = await heldReload(node, media);
  const stopped = node.stop();
  const answer = await held.answer;
  t.equal(answer.status, 200, "the player's held reload is answered");
  t.match(answer.text, /^#EXT-X-ENDLIST$/m, 'with the playlist ended: the player is told the stream is over instead of losing its connection');
  t.equal(await stopped, 0, 'the node exits with code 0');
  const database = await openPglite(dataDir);
  t.teardown(() => database.close());
  const first: FirstRow = async (text, params) => (await database.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, params))).rows[0];
  await checkEndedAndRecorded(t, first, sessionId, liveSeconds);
  t.same(failures(node), [], 'nothing failed on the way out');
});
