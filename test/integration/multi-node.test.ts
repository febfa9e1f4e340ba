// Two Spillway nodes as separate processes on one PostgreSQL, one Redis and one S3 bucket, each with
// its own media directory, as an operator runs them: a stream published to A plays through B (ffprobe
// and hls.js in Chromium); restarting B leaves A's stream and VOD whole; the same key on B is
// refused while A streams; rotating the key through the edge drops A's publisher; and after a kill -9 of A,
// B ends the session as node-lost and finalises the VOD from what reached storage, marked interrupted.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import t from 'tap';
import { launchChromium, servePlayer, type PlayerStats } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { ChatClient } from '../helpers/chat-harness.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';
import { publish } from '../helpers/publisher.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { startNginx } from '../helpers/nginx.ts';
import { TEST_REDIS_URL, createTestDatabase, freePort, tempDir, uniquePrefix } from '../helpers/services.ts';

const run = promisify(execFile);
// The default lease: shorter ones (3 s, 8 s) were found expired on a machine at load 30, where a
// node's renewals can stall for seconds.
const LEASE_S = 15;
const LOST_FINALIZE_S = 3;

t.test('two nodes share live streams, revocations and recordings', async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const s3 = await startS3Server(t);
  const shared = {
    HOST: '127.0.0.1',
    PORT: '0',
    RTMP_PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix('multinode'),
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    SECRET_KEY: randomBytes(32).toString('hex'),
    LADDER: '',
    LIVE_GRACE_S: '2',
    LIVE_LEASE_S: String(LEASE_S),
    NODE_LOST_FINALIZE_S: String(LOST_FINALIZE_S),
    LOG_LEVEL: 'info',
  };
  const dirA = await tempDir(t, 'node-a');
  const dirB = await tempDir(t, 'node-b');
  // Fixed ports, so the edge's upstream list holds across B's restart.
  const envA = { ...shared, DATA_DIR: dirA, NODE_ID: 'node-a', PORT: String(await freePort()) };
  const envB = { ...shared, DATA_DIR: dirB, NODE_ID: 'node-b', PORT: String(await freePort()) };
  let a = await startNode(t, envA);
  let b = await startNode(t, envB);
  // The edge: Debian's nginx with the repository's nginx.conf, both nodes upstream, no node's disk.
  const edgeUrl = await startNginx(t, { appUrl: [a.url, b.url], mediaDir: await tempDir(t, 'edge-empty') });
  const edge = { url: edgeUrl } as NodeProcess;

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const sessionRow = async (id: string) => (await db.query('select owner_node, ended_at, end_reason, lease_expires_at from live_sessions where id = $1', [id])).rows[0];

  const api = async (node: NodeProcess, url: string, init: RequestInit = {}) => {
    const res = await fetch(`${node.url}${url}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return { status: res.status, body: await res.json() };
  };
  const reg = await api(a, '/api/v1/auth/register', { method: 'POST', body: JSON.stringify({ username: 'alice', email: 'alice@example.test', password: 'correct horse battery' }) });
  t.equal(reg.status, 201);
  const auth = { authorization: `Bearer ${reg.body.accessToken}` };
  let streamKey: string = (await api(b, '/api/v1/channels/alice/stream-key', { headers: auth })).body.streamKey;
  const channelOn = (node: NodeProcess) => api(node, '/api/v1/channels/alice').then((r) => r.body);
  const liveOn = async (node: NodeProcess, other?: string) => {
    const c = await channelOn(node);
    return c.live && c.sessionId !== other ? c : null;
  };

  const PUBLISHED_S = 50;
  const first = publish(t, `rtmp://127.0.0.1:${a.rtmpPort}/live/${streamKey}`, { seconds: PUBLISHED_S });
  const live = await until(() => liveOn(b), 'node B to report the stream published to A', 45_000, 200);
  const sessionId: string = live.sessionId;
  t.equal((await sessionRow(sessionId)).owner_node, 'node-a', 'A owns the session it ingests');
  t.same((await channelOn(a)).sessionId, sessionId, 'A and B report the same session');
  const listed = await until(async () => (await api(b, '/api/v1/live')).body.live[0], 'B to list the stream', 20_000, 200);
  t.equal(listed.slug, 'alice', "B's /api/v1/live lists A's stream");

  await t.test('playback through B: ffprobe and hls.js in Chromium', async (t) => {
    const master = `${b.url}${live.playbackUrl}`;
    const res = await fetch(master);
    t.equal(res.status, 200, 'B answers the master playlist (proxied, not redirected)');
    t.notOk(res.redirected, 'no redirect to an internal address');
    const media = `${b.url}/hls/${sessionId}/source/index.m3u8`;
    const playlist = await (await fetch(media)).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(playlist)?.[1];
    const lastPart = [...playlist.matchAll(/#EXT-X-PART:.*URI="part-(\d+)\.m4s"/g)].length;
    t.ok(hint && lastPart > 0, 'the proxied media playlist lists parts and a preload hint');
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)![1]) + (playlist.match(/#EXTINF/g)?.length ?? 0);
    const blocked = await fetch(`${media}?_HLS_msn=${msn}&_HLS_part=0`);
    t.equal(blocked.status, 200, 'a blocking reload through B is held and answered');
    t.match(await blocked.text(), new RegExp(`seg-${msn}\\.m4s|part-`), 'with the part it waited for');
    const hinted = await fetch(new URL(hint!, media));
    t.equal(hinted.status, 200, 'the preload-hinted part, fetched through B, waits for the owner to write it');
    t.equal(hinted.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    // ffprobe starts from complete segments, as a plain HLS client does.
    await until(async () => ((await (await fetch(media)).text()).match(/#EXTINF/g)?.length ?? 0) >= 2, 'two complete segments', 20_000, 200);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', master], { timeout: 60_000 });
    t.match(stdout, /h264,640,360/, 'ffprobe decodes the video through B');
    t.match(stdout, /aac/, 'and the audio');
    const thumbnail = await fetch(`${b.url}/api/v1/channels/alice/thumbnail.jpg`);
    t.equal(thumbnail.status, 200, "B answers the channel's live thumbnail, made by A");
    t.equal(thumbnail.headers.get('content-type'), 'image/jpeg');

    const browser = await launchChromium(t);
    const playerBase = await servePlayer(t);
    const page = await browser.newPage();
    t.teardown(() => page.close());
    await page.goto(`${playerBase}/player.html?src=${encodeURIComponent(master)}`);
    await until(() => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats.started), 'hls.js to start playing through B', 45_000, 100);
    const from = await page.evaluate(() => document.querySelector('video')!.currentTime);
    const played = await page.waitForFunction((f) => document.querySelector('video')!.currentTime >= f + 4, from, { timeout: 30_000, polling: 250 }).then(() => true, () => false);
    const stats = await page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats);
    t.ok(played, 'hls.js plays 4 s of the stream through B');
    t.equal(stats.fatal, null, 'with no fatal error');
    const viewers = await until(async () => ((await channelOn(a)).viewers >= 1 ? (await channelOn(b)).viewers : null), 'the viewer to be counted', 15_000, 200);
    t.ok(viewers >= 1, `B reports the viewer A counts (${viewers})`);

    const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const onA = await (await fetch(`${a.url}/metrics`)).text();
    const onB = await (await fetch(`${b.url}/metrics`)).text();
    t.equal(metric(onA, 'spillway_live_sessions_owned'), 1, "A's /metrics: one session owned");
    t.equal(metric(onB, 'spillway_live_sessions_owned'), 0, "B's: none");
    t.equal(metric(onA, 'spillway_publishers'), 1, 'one publisher on A');
    t.ok(metric(onA, 'spillway_parts_produced_total') > 10, 'parts produced on A');
    t.ok(metric(onA, 'spillway_viewers') >= 1, 'viewers counted on A');
    t.ok(metric(onA, 'spillway_ingest_bitrate_bits_per_second') > 0, "the session's ingest bitrate");
    t.ok(metric(onB, 'spillway_proxy_requests_total') > 5, 'requests B proxied to A');
    t.match(onB, /spillway_proxy_requests_total\{status="2xx"\}/, 'labelled by status class only');
    t.ok(metric(onA, 'spillway_upload_queue_length') >= 0 && metric(onA, 'spillway_upload_lag_seconds') >= 0, 'the upload queue and its lag');
    t.match(onA, /spillway_playlist_requests_waiting \d+/, 'playlist requests waiting');
  });

  const outer = t;
  await t.test('playback through the nginx edge: one origin request per blocking reload, media cached', async (t) => {
    const media = `${edge.url}/hls/${sessionId}/source/index.m3u8`;
    const playlist = await (await fetch(media)).text();
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)![1]) + (playlist.match(/#EXTINF/g)?.length ?? 0);
    const url = `${media}?_HLS_msn=${msn + 1}&_HLS_part=0`;
    // Ten viewers wait for the same part: the edge sends one request and answers all ten.
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(url).then(async (r) => ({ status: r.status, cache: r.headers.get('x-cache-status'), text: await r.text() }))));
    t.same(answers.map((a) => a.status), Array(10).fill(200), 'every waiting viewer gets the playlist');
    t.equal(answers.filter((a) => a.cache === 'MISS').length, 1, `one request went to the origin (${answers.map((a) => a.cache).join(' ')})`);
    t.equal(new Set(answers.map((a) => a.text)).size, 1, 'all got the same answer');
    const bare = await fetch(media);
    t.not(bare.headers.get('x-cache-status'), 'HIT', 'the bare playlist is never served from the cache');
    const part = /URI="(part-\d+\.m4s)"/.exec(answers[0]!.text)![1]!;
    const first = await fetch(new URL(part, media));
    await first.arrayBuffer();
    const again = await fetch(new URL(part, media));
    t.equal(again.status, 200);
    t.equal(again.headers.get('x-cache-status'), 'HIT', 'a part is fetched from the nodes once, then from the cache');

    const browser = await launchChromium(t);
    const playerBase = await servePlayer(t);
    const page = await browser.newPage();
    t.teardown(() => page.close());
    await page.goto(`${playerBase}/player.html?src=${encodeURIComponent(`${edge.url}${live.playbackUrl}`)}`);
    await until(() => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats.started), 'hls.js to start playing through the edge', 45_000, 100);
    const from = await page.evaluate(() => document.querySelector('video')!.currentTime);
    const played = await page.waitForFunction((f) => document.querySelector('video')!.currentTime >= f + 4, from, { timeout: 30_000, polling: 250 }).then(() => true, () => false);
    t.ok(played, 'hls.js plays 4 s of the stream through the edge');
    t.equal((await page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats)).fatal, null, 'with no fatal error');
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `${edge.url}${live.playbackUrl}`], { timeout: 60_000 });
    t.match(stdout, /h264/, 'ffprobe reads it through the edge');

    // Chat WebSockets pass through the edge, and a message reaches a socket on the other node.
    const viaEdge = await ChatClient.connect(`${edge.url.replace(/^http/, 'ws')}/chat/alice`);
    const onA = await ChatClient.connect(`${a.url.replace(/^http/, 'ws')}/chat/alice`);
    t.teardown(() => [viaEdge, onA].forEach((c) => c.ws.terminate()));
    t.equal((await viaEdge.auth(reg.body.accessToken)).type, 'authed', 'a chat socket through the edge signs in');
    const ack = await viaEdge.post('hello through the edge');
    t.equal((await onA.waitFor((f) => f.type === 'message' && f.message.id === ack.messageId, 'the message on A')).message.text, 'hello through the edge');
  });

  await t.test("restarting B leaves A's stream alone", async (t) => {
    const stoppedAt = Date.now();
    const code = await b.stop();
    t.equal(code, 0, `B shuts down cleanly (in ${Date.now() - stoppedAt} ms)`);
    if (code !== 0) t.comment(b.output().split('\n').filter((l) => /"level":(40|50|60)|shutting|closing/.test(l)).slice(-20).join('\n'));
    b = await startNode(outer, envB);
    const row = await sessionRow(sessionId);
    t.equal(row.ended_at, null, `B's start did not end A's session (${row.end_reason ?? 'live'})`);
    if (row.ended_at) t.comment([a.output(), b.output()].join('\n').split('\n').filter((l) => /"level":(40|50)/.test(l) && !/web UI/.test(l)).slice(-15).join('\n'));
    t.equal((await channelOn(b)).sessionId, sessionId, 'the restarted B reports the same live session');
  });

  await t.test('the same key published to B is refused; A continues', async (t) => {
    const before = await (await fetch(`${b.url}/hls/${sessionId}/source/index.m3u8`)).text();
    const second = publish(t, `rtmp://127.0.0.1:${b.rtmpPort}/live/${streamKey}`, { seconds: 20 });
    t.not(await second.exited, 0, 'the second publisher is disconnected');
    t.match(b.output(), /"reason":"already-live"/, 'B refused it as already live');
    t.notMatch(b.output(), /ffmpeg started/, 'B never started an ffmpeg for it');
    t.equal(first.child.exitCode, null, "A's publisher is still connected");
    t.equal((await sessionRow(sessionId)).ended_at, null, "A's session is still live");
    const seq = (text: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1) * 1000 + (text.match(/#EXT-X-PART:/g)?.length ?? 0);
    await until(async () => seq(await (await fetch(`${b.url}/hls/${sessionId}/source/index.m3u8`)).text()) !== seq(before), "A's playlist to keep advancing", 10_000, 200);
  });

  await t.test("A's VOD is complete: the restart of B cut nothing", async (t) => {
    await first.exited;
    const vod = await until(async () => {
      const r = await db.query(`select v.id, v.status, v.duration_s, v.interrupted, s.end_reason from vods v join live_sessions s on s.id = v.live_session_id where s.id = $1`, [sessionId]);
      return r.rows[0]?.status === 'ready' ? r.rows[0] : null;
    }, "A's VOD to be ready", 60_000, 200);
    t.equal(vod.end_reason, 'unpublished');
    t.ok(Math.abs(vod.duration_s - PUBLISHED_S) <= 1, `the VOD lasts ${vod.duration_s.toFixed(2)} s of the ${PUBLISHED_S} s published`);
    const playlist = await (await fetch(`${s3.endpoint}/${s3.bucket}/vods/${vod.id}/source/index.m3u8`)).text();
    const segments = playlist.split('\n').filter((l) => l.startsWith('seg-'));
    t.same(segments, segments.map((_, i) => `seg-${i}.m4s`), 'every segment from the first, none missing');
    t.ok(Math.abs(segments.length - PUBLISHED_S / 2) <= 1, `${segments.length} two-second segments for ${PUBLISHED_S} s`);
    const body = (await api(b, `/api/v1/vods/${vod.id}`)).body;
    t.equal(body.interrupted, false, 'not marked interrupted');
  });

  await t.test("rotating the key through the edge drops A's publisher", async (t) => {
    const pub = publish(t, `rtmp://127.0.0.1:${a.rtmpPort}/live/${streamKey}`, { seconds: 120 });
    const next = await until(() => liveOn(b, sessionId), 'the new stream on A', 45_000, 200);
    const rotated = Date.now();
    // Through the edge: whichever node takes the request, the node holding the stream ends it.
    const res = await api(edge, '/api/v1/channels/alice/stream-key', { method: 'POST', headers: auth, body: '{}' });
    t.equal(res.status, 200);
    streamKey = res.body.streamKey;
    await pub.exited;
    const tookMs = Date.now() - rotated;
    t.ok(tookMs <= 2000, `A dropped its publisher ${tookMs} ms after the rotation`);
    const row = await until(async () => ((await sessionRow(next.sessionId)).ended_at ? sessionRow(next.sessionId) : null), 'the session to end', 10_000, 100);
    t.equal(row.end_reason, 'key-rotated');
  });

  await t.test('kill -9 of A: B ends the session as node-lost and finalises what was uploaded', async (t) => {
    const pub = publish(t, `rtmp://127.0.0.1:${a.rtmpPort}/live/${streamKey}`, { seconds: 300 });
    const lastSession = (await db.query(`select id from live_sessions order by started_at desc limit 1`)).rows[0]?.id;
    const next = await until(() => liveOn(b, lastSession), 'the third stream on A', 45_000, 200);
    const uploaded = async () =>
      Number((await db.query(`select count(*) as n from vod_uploads u join vods v on v.id = u.vod_id where v.live_session_id = $1 and u.state = 'uploaded' and u.kind = 'segment'`, [next.sessionId])).rows[0].n);
    await until(async () => (await uploaded()) >= 3, 'three segments uploaded', 30_000, 200);
    await a.kill();
    const killedAt = Date.now();
    await pub.stop();
    const row = await until(async () => ((await sessionRow(next.sessionId)).ended_at ? sessionRow(next.sessionId) : null), 'the session of the lost node to end', (LEASE_S + 10) * 1000, 100);
    const endedMs = Date.now() - killedAt;
    t.equal(row.end_reason, 'node-lost', 'ended as node-lost');
    t.ok(endedMs <= (LEASE_S + 5) * 1000, `within the lease plus a few seconds (${endedMs} ms, lease ${LEASE_S} s)`);
    t.equal((await channelOn(b)).live, false, 'B no longer reports the channel live');
    t.equal((await channelOn(edge)).live, false, 'nor does the edge, with A gone from its upstream');
    const vodId: string = (await db.query('select id from vods where live_session_id = $1', [next.sessionId])).rows[0].id;
    const vod = await until(async () => {
      const v = (await api(b, `/api/v1/vods/${vodId}`, { headers: auth })).body;
      return v.status === 'ready' ? v : null;
    }, 'B to finalise the VOD', 60_000, 200);
    t.equal(vod.interrupted, true, 'the VOD says it was interrupted');
    const stored = await uploaded();
    t.ok(vod.durationS >= stored * 2 - 1, `it holds what was uploaded (${vod.durationS.toFixed(1)} s from ${stored} segments)`);
    t.match(b.output(), /finalising the VOD of a node that was lost/, 'B finalised it');
    t.match(await (await fetch(`${b.url}/metrics`)).text(), /spillway_vods_finalized_total\{result="ready",interrupted="true"\} 1/, "B's /metrics counts it");
    const master = await fetch(`${b.url}/vod/${vodId}/master.m3u8`);
    t.equal(master.status, 200, 'and it plays');
  });
});

