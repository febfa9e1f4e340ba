// The live path end to end: ffmpeg publishes over real RTMP with a real stream key, the server
// packages LL-HLS, and clients read it directly and through the repository's nginx.conf.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { sql } from 'kysely';
import { duplicateKeys } from '../helpers/json-duplicate-keys.ts';
import { parseMediaPlaylist, validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';
import { until } from '../helpers/media.ts';
import { startNginx } from '../helpers/nginx.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { renditionNow } from '../helpers/live-view.ts';

const run = promisify(execFile);

t.test('live streaming', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400', LIVE_GRACE_S: '6' });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice');
  const auth = { authorization: `Bearer ${alice.accessToken}` };
  const keyRes = await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: auth });
  const { streamKey, server: obsServer } = keyRes.json();
  t.match(obsServer, new RegExp(`:${server.ingest.port}/live$`), 'the OBS server URL names the real RTMP port');
  const rtmp = (key: string) => `rtmp://127.0.0.1:${server.ingest.port}/live/${key}`;
  const channel = async () => (await server.app.inject({ url: '/api/v1/channels/alice' })).json();

  // Awaited: the real publish below must not start while this checks that nothing went live.
  await t.test('a bad key is refused before any ffmpeg starts, and not logged', async (t) => {
    const badKey = 'live_' + 'B'.repeat(43);
    const bad = publish(t, rtmp(badKey), { seconds: 10 });
    const code = await bad.exited;
    t.not(code, 0, 'the publisher is disconnected');
    t.equal((await channel()).live, false);
    t.equal(server.live.live().length, 0, 'no live session, so no packager ffmpeg');
    t.notOk(server.logs().includes(badKey), 'the refused key is not in the log');
  });

  const events: Array<{ topic: string; message: { slug?: string; reason?: string; sessionId?: string } }> = [];
  for (const topic of ['stream.started', 'stream.ended']) {
    await server.bus.subscribe(topic, (message) => events.push({ topic, message: message as { slug?: string } }));
  }
  const first = publish(t, rtmp(streamKey), { seconds: 300 });
  const live = await until(async () => {
    const c = await channel();
    return c.live ? c : null;
  }, 'the channel to go live', 20_000);
  const master = `${base}${live.playbackUrl}`;

  t.test('the stream key is in no process list and no log line', async (t) => {
    const { readFile: read, readdir } = await import('node:fs/promises');
    const pid = server.live.live()[0]!.ffmpegPid!;
    const cmdline = (await read(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    t.match(cmdline, / -i pipe:0 /, "the ladder's ffmpeg reads the stream from its stdin, not over RTMP");
    t.notOk(cmdline.includes(streamKey), "the packager's ffmpeg arguments do not contain the key");
    let leaks = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === first.child.pid) continue;
      const text = await read(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (text.includes(streamKey)) leaks += 1;
    }
    t.equal(leaks, 0, 'no server process has the key in its arguments (only the test publisher does)');
    t.notOk(server.logs().includes(streamKey), 'no log line contains the key');
  });

  t.test('playlists are valid LL-HLS and every rendition decodes', async (t) => {
    const masterText = await (await fetch(master)).text();
    t.same(validateMasterPlaylist(masterText), [], 'master playlist');
    t.match(masterText, /source\/index\.m3u8/);
    t.match(masterText, /240p\/index\.m3u8/);
    const sessionBase = master.replace(/master\.m3u8$/, '');
    await until(() => (renditionNow(server.live.live()[0], '240p')?.segmentCount ?? 0) >= 2, 'two segments', 20_000);
    for (const name of ['source', '240p']) {
      const res = await fetch(`${sessionBase}${name}/index.m3u8`);
      t.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
      t.equal(res.headers.get('cache-control'), 'no-cache');
      const text = await res.text();
      t.same(validateMediaPlaylist(text, { lowLatency: true }), [], `${name} playlist`);
    }
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', master], { timeout: 30_000 });
    t.match(stdout, /h264,640,360/, 'ffprobe decodes the source rendition');
    t.match(stdout, /h264,426,240/, 'ffprobe decodes the 240p rendition');
    t.match(stdout, /aac/, 'with audio');
  });

  t.test('every listed part is served, and a segment is its parts end to end', async (t) => {
    const renditionBase = master.replace(/master\.m3u8$/, '240p/');
    await until(() => (renditionNow(server.live.live()[0], '240p')?.segmentCount ?? 0) >= 4, 'four segments', 20_000);
    const playlist = parseMediaPlaylist(await (await fetch(`${renditionBase}index.m3u8`)).text());
    // Complete segments whose parts are still listed: the oldest of them is read from its file, the
    // newest from memory.
    const complete = playlist.segments.filter((s) => s.parts.length > 0 && s.uri);
    t.ok(complete.length >= 2, `${complete.length} complete segments list their parts`);
    for (const segment of complete) {
      const parts = await Promise.all(segment.parts.map(async (p) => {
        const res = await fetch(`${renditionBase}${p.uri}`);
        t.equal(res.status, 200, `${p.uri} is served`);
        return Buffer.from(await res.arrayBuffer());
      }));
      const file = Buffer.from(await (await fetch(`${renditionBase}${segment.uri}`)).arrayBuffer());
      t.ok(file.equals(Buffer.concat(parts)), `${segment.uri} (${file.length} bytes) is its ${parts.length} parts`);
    }
  });

  t.test('blocking playlist reload and the preload hint', async (t) => {
    const playlistUrl = master.replace(/master\.m3u8$/, '240p/index.m3u8');
    const parsed = parseMediaPlaylist(await (await fetch(playlistUrl)).text());
    const { msn, part } = parsed.lastPart!;
    const started = Date.now();
    const res = await fetch(`${playlistUrl}?_HLS_msn=${msn}&_HLS_part=${part + 1}`);
    t.equal(res.status, 200, 'the request for the next part is answered');
    const next = parseMediaPlaylist(await res.text());
    t.ok(next.lastPart!.msn > msn || next.lastPart!.part > part, 'and the playlist then has that part');
    t.ok(Date.now() - started < 3000, 'within a few part durations');

    const hint = next.preloadHints[0]!.uri;
    const hinted = await fetch(new URL(hint, playlistUrl));
    t.equal(hinted.status, 200, 'a GET for the hinted part waits for it and returns it');
    t.ok((await hinted.arrayBuffer()).byteLength > 0);

    const far = await fetch(`${playlistUrl}?_HLS_msn=${msn + 50}`);
    t.equal(far.status, 400, 'too far ahead is a 400');
    const malformed = await fetch(`${playlistUrl}?_HLS_part=1`);
    t.equal(malformed.status, 400, 'a part without msn is a 400');
    const delta = await (await fetch(`${playlistUrl}?_HLS_skip=YES`)).text();
    t.same(validateMediaPlaylist(delta, { lowLatency: true }), [], 'a delta update is valid');
  });

  t.test('the same stream through nginx', async (t) => {
    const proxy = await startNginx(t, { appUrl: base, mediaDir: server.config.mediaDir });
    const viaNginx = master.replace(base, proxy);
    const masterRes = await fetch(viaNginx);
    t.equal(masterRes.status, 200);
    t.same(validateMasterPlaylist(await masterRes.text()), []);
    const playlistUrl = viaNginx.replace(/master\.m3u8$/, '240p/index.m3u8');
    const parsed = parseMediaPlaylist(await (await fetch(playlistUrl)).text());
    const segment = await fetch(new URL(parsed.segments.at(-1)!.uri, playlistUrl));
    t.equal(segment.status, 200);
    t.equal(segment.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'segments are immutable');
    t.equal(segment.headers.get('access-control-allow-origin'), '*');
    t.equal(segment.headers.get('content-type'), 'video/iso.segment');
    const { msn, part } = parsed.lastPart!;
    const blocked = await fetch(`${playlistUrl}?_HLS_msn=${msn}&_HLS_part=${part + 1}`);
    t.equal(blocked.status, 200, 'blocking reload works through the proxy');
    const hint = parseMediaPlaylist(await blocked.text()).preloadHints[0]!.uri;
    t.equal((await fetch(new URL(hint, playlistUrl))).status, 200, 'the hinted part, not yet on disk, is fetched from the app');
    const api = await fetch(`${proxy}/api/v1/live`);
    t.equal((await api.json()).live[0]?.slug, 'alice', 'the API is proxied');
  });

  t.test('a second publisher for a live channel is refused; the first keeps streaming', async (t) => {
    const sessionId = live.sessionId;
    const second = publish(t, rtmp(streamKey), { seconds: 10 });
    t.not(await second.exited, 0, 'the duplicate is disconnected');
    t.equal(first.child.exitCode, null, 'the first publisher is still connected');
    const c = await channel();
    t.equal(c.sessionId, sessionId, 'same live session');
  });

  t.test('malformed RTMP affects only its own connection', async (t) => {
    const send = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const socket = connect(server.ingest.port, '127.0.0.1', () => socket.end(bytes));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
        socket.setTimeout(3000, () => socket.destroy());
      });
    await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await send(Buffer.concat([Buffer.from([3]), Buffer.alloc(700, 0xff)]));
    await send(Buffer.alloc(64 * 1024, 0x41));
    const session = server.live.live()[0]!;
    const before = renditionNow(session, '240p')!.nextPartNumber;
    await until(() => renditionNow(session, '240p')!.nextPartNumber > before + 3, 'parts keep coming', 10_000);
    t.pass('the live stream keeps producing parts');
    t.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200, 'the API answers');
  });

  t.test('ingest health for the owner only', async (t) => {
    await until(async () => (await server.app.inject({ url: '/api/v1/channels/alice/ingest-health', headers: auth })).json().bitrateKbps > 0, 'a bitrate', 10_000);
    const health = (await server.app.inject({ url: '/api/v1/channels/alice/ingest-health', headers: auth })).json();
    t.equal(health.videoCodec, 'h264');
    t.equal(health.width, 640);
    t.equal(health.height, 360);
    t.ok(health.fps > 25 && health.fps < 35, `fps ${health.fps}`);
    t.ok(health.keyframeIntervalS === null || Math.abs(health.keyframeIntervalS - 2) < 0.1, `keyframe interval ${health.keyframeIntervalS}`);
    t.same(health.warnings, [], 'a 2 s keyframe interval raises no warning');
    const bob = await registerUser(server, 'bob');
    const other = await server.app.inject({ url: '/api/v1/channels/alice/ingest-health', headers: { authorization: `Bearer ${bob.accessToken}` } });
    t.equal(other.statusCode, 403);
  });

  t.test('a publisher that reconnects within the grace window continues the session', async (t) => {
    const sessionId = (await channel()).sessionId;
    await first.stop();
    const again = publish(t, rtmp(streamKey), { seconds: 300 });
    await until(async () => (await channel()).live && renditionNow(server.live.live()[0], '240p')!.lastDiscontinuityMsn !== null, 'the reconnected stream', 20_000);
    t.equal((await channel()).sessionId, sessionId, 'same session id, same playlists');
    const text = await (await fetch(master.replace(/master\.m3u8$/, '240p/index.m3u8'))).text();
    t.match(text, /#EXT-X-DISCONTINUITY/);
    t.same(validateMediaPlaylist(text, { lowLatency: true }), []);

    t.test('rotating the key ends the stream', async (t) => {
      const rotated = await server.app.inject({ method: 'POST', url: '/api/v1/channels/alice/stream-key', headers: auth });
      t.equal(rotated.statusCode, 200);
      t.not(await again.exited, null, 'the publisher is disconnected');
      await until(async () => !(await channel()).live, 'the channel to go offline', 10_000);
      const row = await until(() => server.database.db.selectFrom('live_sessions').selectAll().where('id', '=', sessionId).where('ended_at', 'is not', null).executeTakeFirst(), 'the session row to be ended', 5000);
      t.equal(row.end_reason, 'key-rotated');
      t.ok(row.ended_at);
      const ended = await (await fetch(master.replace(/master\.m3u8$/, '240p/index.m3u8'))).text();
      t.match(ended, /#EXT-X-ENDLIST/, 'players see the end');
      const oldKey = publish(t, rtmp(streamKey), { seconds: 5 });
      t.not(await oldKey.exited, 0, 'the old key no longer publishes');
    });
  });

  t.test('after the grace window a dropped publisher ends the session as publisher-lost', async (t) => {
    const key = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: auth })).json().streamKey;
    const p = publish(t, rtmp(key), { seconds: 300 });
    const c = await until(async () => {
      const x = await channel();
      return x.live ? x : null;
    }, 'live again', 20_000);
    await p.stop();
    await until(async () => !(await channel()).live, 'offline after the grace window', 20_000);
    const reason = await until(async () => (await sql<{ end_reason: string | null }>`select end_reason from live_sessions where id = ${c.sessionId}`.execute(server.database.db)).rows[0]?.end_reason, 'the session row to be ended', 5000);
    t.equal(reason, 'publisher-lost');
    await until(() => events.some((e) => e.topic === 'stream.ended' && e.message.sessionId === c.sessionId), 'the stream.ended event', 5000);
    t.same(
      events.filter((e) => e.message.sessionId === c.sessionId).map((e) => [e.topic, e.message.slug, e.message.reason]),
      [['stream.started', 'alice', undefined], ['stream.ended', 'alice', 'publisher-lost']],
      'the bus announced the start and the end',
    );
  });

  t.test('every line the server logged (ingest, worker, packager, archiver, HTTP) is JSON with each key once', async (t) => {
    const lines = server.logs().split('\n').filter(Boolean);
    t.ok(lines.length > 50, `${lines.length} lines`);
    const bad = lines.filter((line) => duplicateKeys(line).length > 0);
    t.same(bad.slice(0, 3), [], 'no line repeats a key');
    t.ok(lines.every((line) => typeof JSON.parse(line).level === 'number'), 'every line is a pino JSON line');
  });
});

t.test('Stop ends the stream at once; only a dropped connection waits for the encoder to come back', async (t) => {
  // A grace window far longer than any deadline below: nothing here can pass by waiting it out.
  const server = await startTestServer(t, { LADDER: '', LIVE_GRACE_S: '300' });
  const dave = await registerUser(server, 'dave');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/dave/stream-key', headers: { authorization: `Bearer ${dave.accessToken}` } })).json();
  const url = `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`;
  const channel = async () => (await server.app.inject({ url: '/api/v1/channels/dave' })).json();
  const publishEnded = () => server.logs().split('\n').filter((line) => line.includes('rtmp publish ended'));

  const first = publish(t, url, { seconds: 300 });
  const sessionId = await until(async () => (await channel()).sessionId as string | undefined, 'live', 20_000);
  await until(() => renditionNow(server.live.live()[0], 'source')?.segmentCount, 'a first segment', 20_000);
  await first.stop();
  await until(() => publishEnded().find((line) => line.includes('"publisher-disconnected"')), 'the ingest to see the drop', 10_000);
  t.equal((await channel()).live, true, 'a dropped publisher leaves the stream live for its reconnect');

  const second = publish(t, url, { seconds: 300 });
  await until(() => (renditionNow(server.live.live()[0], 'source')?.lastDiscontinuityMsn ?? null) !== null, 'the reconnected stream', 20_000);
  t.equal((await channel()).sessionId, sessionId, 'the encoder that came back continues the same session');

  await second.stopCleanly();
  const row = await until(() => server.database.db.selectFrom('live_sessions').selectAll().where('id', '=', sessionId).where('ended_at', 'is not', null).executeTakeFirst(), 'the session to end without waiting for the grace window', 20_000);
  t.equal(row.end_reason, 'unpublished');
  t.equal((await channel()).live, false, 'viewers see the stream end');
  const vod = await until(() => server.database.db.selectFrom('vods').selectAll().where('live_session_id', '=', sessionId).where('status', '=', 'ready').executeTakeFirst(), 'the VOD to be ready', 30_000);
  t.ok(vod.duration_s > 1, `the VOD has the stream in it (${vod.duration_s} s)`);
});

t.test('a stream that reaches the maximum duration is ended and its publisher dropped', async (t) => {
  const server = await startTestServer(t, { LADDER: '', MAX_LIVE_DURATION_S: '4' });
  const carol = await registerUser(server, 'carol');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/carol/stream-key', headers: { authorization: `Bearer ${carol.accessToken}` } })).json();
  const p = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 300 });
  const sessionId = await until(() => server.live.live()[0]?.id, 'live', 20_000);
  t.not(await p.exited, null, 'the publisher is disconnected');
  const row = await until(() => server.database.db.selectFrom('live_sessions').selectAll().where('id', '=', sessionId).where('ended_at', 'is not', null).executeTakeFirst(), 'the session to end', 10_000);
  t.equal(row.end_reason, 'max-duration');
});
