// Recording end to end: ffmpeg publishes over real RTMP, the archiver uploads every segment to an
// S3 API (s3rver) as it is made, and the stream becomes a VOD that the app serves and ffprobe
// decodes. Also: a storage outage mid-stream, deletion, private VODs, and a kill -9 of the server.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.ts';
import { registerUser, startTestServer, type TestServer } from '../helpers/server-harness.ts';
import { renditionNow } from '../helpers/live-view.ts';

const run = promisify(execFile);
const STREAM_S = 30;

interface Teardown {
  teardown(fn: () => unknown): void;
}

export function s3Env(s3: TestS3Server) {
  return { S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: 'true' };
}

/** The server as main.ts builds it (archiving in-process), on the S3 test server. */
async function startRecordingServer(t: Teardown, s3: TestS3Server) {
  const server = await startTestServer(t, { LADDER: '240:400', LIVE_GRACE_S: '0', LIVE_WINDOW_SEGMENTS: '6', LIVE_TILE_BATCH: '10', ...s3Env(s3) });
  const base = await server.listen();
  return { server, base, recording: server.recording };
}

async function streamKeyOf(server: TestServer, token: string, slug: string): Promise<string> {
  return (await server.app.inject({ url: `/api/v1/channels/${slug}/stream-key`, headers: { authorization: `Bearer ${token}` } })).json().streamKey;
}

/** Streams `seconds` of test pattern and waits for its VOD to be ready; returns the VOD body. */
async function streamToVod(server: TestServer, rtmpUrl: string, token: string, seconds: number, during?: (sessionId: string) => Promise<void>) {
  const publisher = publish(t, rtmpUrl, { seconds });
  const session = await until(() => server.live.live()[0], 'the stream to go live', 20_000);
  if (during) await during(session.id);
  await publisher.exited;
  const vod = await until(async () => {
    const row = await server.database.db.selectFrom('vods').select(['id', 'status']).where('live_session_id', '=', session.id).executeTakeFirst();
    return row && (row.status === 'ready' || row.status === 'failed') ? row : null;
  }, 'the VOD to be ready', 60_000);
  const body = (await server.app.inject({ url: `/api/v1/vods/${vod.id}`, headers: { authorization: `Bearer ${token}` } })).json();
  return { ...body, sessionId: session.id };
}

/** Every segment the VOD's playlists name is in storage, numbered without a gap from 0. */
async function checkComplete(t: Test, server: TestServer, base: string, vod: { id: string; renditions: Array<{ name: string }> }) {
  for (const { name } of vod.renditions) {
    const playlist = await (await fetch(`${base}/vod/${vod.id}/${name}/index.m3u8`)).text();
    t.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD/);
    t.match(playlist, /#EXT-X-ENDLIST/);
    const uris = playlist.split('\n').filter((l) => l.startsWith('seg-'));
    t.same(uris, uris.map((_, i) => `seg-${i}.m4s`), `${name}: every segment from the first, in order`);
    const stored = new Set((await server.storage.list(`vods/${vod.id}/${name}/`)).map((o) => o.key.split('/').pop()));
    t.same(uris.filter((u) => !stored.has(u)), [], `${name}: every listed segment is stored`);
  }
}

/** The thumbnails track's cues in order, and the sprite sheet's size, as a player sees them. */
async function previewTrack(vttUrl: string, spriteUrl: string) {
  const vtt = await (await fetch(vttUrl)).text();
  const seconds = (t: string) => t.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  const cues = [...vtt.matchAll(/^(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$/gm)].map((m) => ({
    from: seconds(m[1]!), to: seconds(m[2]!), x: Number(m[4]), y: Number(m[5]), w: Number(m[6]), h: Number(m[7]),
  }));
  const probed = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'json', spriteUrl]);
  const sprite = (JSON.parse(probed.stdout) as { streams: Array<{ width: number; height: number }> }).streams[0]!;
  return { vtt, cues, sprite };
}

/** Cues follow each other from 0 to the VOD's duration, each on a tile inside the sheet. */
function checkCoverage(t: Test, track: Awaited<ReturnType<typeof previewTrack>>, durationS: number) {
  const { cues, sprite } = track;
  t.ok(cues.length > 1, `${cues.length} cues`);
  t.equal(cues[0]?.from, 0, 'the first cue starts at 0');
  t.ok(Math.abs(cues.at(-1)!.to - durationS) < 0.01, `the last cue ends at ${cues.at(-1)!.to} s, the VOD's ${durationS} s`);
  t.same(cues.filter((c, i) => i > 0 && Math.abs(c.from - cues[i - 1]!.to) > 0.001), [], 'no gap or overlap between cues');
  t.same(cues.filter((c) => c.x + c.w > sprite.width || c.y + c.h > sprite.height), [], `every tile lies inside the ${sprite.width}x${sprite.height} sheet`);
}

async function decode(url: string): Promise<{ duration: number; errors: string; frames: number }> {
  const probed = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames:format=duration', '-of', 'json', url], { timeout: 60_000 });
  const json = JSON.parse(probed.stdout) as { streams: Array<{ nb_read_frames?: string }>; format: { duration?: string } };
  const decoded = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', url, '-map', '0', '-f', 'null', '-'], { timeout: 60_000 });
  return { duration: Number(json.format.duration ?? 0), frames: Number(json.streams[0]?.nb_read_frames ?? 0), errors: decoded.stderr.trim() };
}

t.test('a live stream becomes a VOD in object storage', async (t) => {
  const s3 = await startS3Server(t);
  const { server, base } = await startRecordingServer(t, s3);
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const aliceAuth = { authorization: `Bearer ${alice.accessToken}` };
  const bobAuth = { authorization: `Bearer ${bob.accessToken}` };
  const rtmp = `rtmp://127.0.0.1:${server.ingest.port}/live/${await streamKeyOf(server, alice.accessToken, 'alice')}`;

  let tilesWhileLive: string[] = [];
  const vod = await streamToVod(server, rtmp, alice.accessToken, STREAM_S, async (sessionId) => {
    const { readdir } = await import('node:fs/promises');
    const tileDir = `${server.config.mediaDir}/live/${sessionId}/.tiles/240p`;
    tilesWhileLive = await until(async () => {
      const files = (await readdir(tileDir).catch(() => [])).filter((f) => f.endsWith('.jpg'));
      return files.length >= 10 ? files : null;
    }, 'seek-preview tiles made while the stream is live', 40_000, 100);
  });
  t.equal(vod.status, 'ready');
  t.same(vod.renditions.map((r: { name: string }) => r.name).sort(), ['240p', 'source']);

  t.test('every segment is stored and the VOD decodes end to end with the streamed duration', async (t) => {
    await checkComplete(t, server, base, vod);
    const master = `${base}/vod/${vod.id}/master.m3u8`;
    t.equal(vod.playbackUrl, `/vod/${vod.id}/master.m3u8`);
    const result = await decode(master);
    t.equal(result.errors, '', 'ffmpeg decodes every frame without an error');
    t.ok(Math.abs(result.duration - STREAM_S) <= 1, `duration ${result.duration} s is within 1 s of ${STREAM_S} s`);
    t.ok(Math.abs(vod.durationS - STREAM_S) <= 1, `the API says ${vod.durationS} s`);
    t.ok(result.frames >= (STREAM_S - 1) * 30, `${result.frames} frames decoded`);
    const row = await server.database.db.selectFrom('vods').select('media_offset_ms').where('id', '=', vod.id).executeTakeFirstOrThrow();
    // The session starts when its first frames reach the packager, so the first frame falls a few
    // ms into it (0 when the estimate, from the first segment's mtime less its duration, lands just
    // before). An offset near a segment's length (2 s) would put chat replay visibly out of step.
    t.ok(row.media_offset_ms >= 0 && row.media_offset_ms < 1000, `the first frame is placed ${row.media_offset_ms} ms into the session, for chat replay`);
  });

  t.test('poster, sprite sheet and thumbnails track', async (t) => {
    const poster = await fetch(new URL(vod.thumbnailUrl, base));
    t.equal(poster.headers.get('content-type'), 'image/jpeg');
    t.ok((await poster.arrayBuffer()).byteLength > 1000, 'a poster image');
    const vtt = await (await fetch(new URL(vod.previewTrackUrl, base))).text();
    t.match(vtt, /^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\nsprite\.jpg#xywh=0,0,160,90\n/);
    const sprite = await fetch(`${base}/vod/${vod.id}/sprite.jpg`);
    t.equal(sprite.status, 200);
  });

  t.test('the thumbnails track covers the whole stream, with tiles made while it was live', async (t) => {
    t.ok(tilesWhileLive.length >= 10, `${tilesWhileLive.length} tiles were on disk before the stream ended`);
    const track = await previewTrack(new URL(vod.previewTrackUrl, base).href, `${base}/vod/${vod.id}/sprite.jpg`);
    checkCoverage(t, track, vod.durationS);
    t.equal(track.cues.length, Math.ceil(vod.durationS / 2), 'a tile every 2 s');
  });

  t.test('media is served with HTTP Range support', async (t) => {
    const url = `${base}/vod/${vod.id}/240p/seg-1.m4s`;
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    t.equal(part.status, 206);
    t.equal(part.headers.get('content-range'), `bytes 100-199/${whole.length}`);
    t.same(Buffer.from(await part.arrayBuffer()), whole.subarray(100, 200));
    const tail = await fetch(url, { headers: { range: 'bytes=-10' } });
    t.same(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 10));
    t.equal((await fetch(url, { headers: { range: `bytes=${whole.length + 10}-` } })).status, 416);
  });

  t.test('local segments outside the live window are gone once stored', async (t) => {
    const { readdir } = await import('node:fs/promises');
    const left = (await readdir(`${server.config.mediaDir}/live/${vod.sessionId}/240p`)).filter((f) => f.startsWith('seg-'));
    t.ok(left.length <= 6 + 3 + 1, `${left.length} segments left on disk`);
  });

  t.test('listing, renaming and visibility', async (t) => {
    const list = (await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json();
    t.equal(list.vods[0]?.id, vod.id, 'the VOD is listed for its channel');
    const renamed = await server.app.inject({ method: 'PATCH', url: `/api/v1/vods/${vod.id}`, headers: aliceAuth, payload: { title: 'My first stream' } });
    t.equal(renamed.json().title, 'My first stream');
    t.equal((await server.app.inject({ method: 'PATCH', url: `/api/v1/vods/${vod.id}`, headers: bobAuth, payload: { title: 'mine now' } })).statusCode, 403, 'only the owner renames');

    const priv = (await server.app.inject({ method: 'PATCH', url: `/api/v1/vods/${vod.id}`, headers: aliceAuth, payload: { visibility: 'private' } })).json();
    t.equal(priv.visibility, 'private');
    t.equal((await server.app.inject({ url: `/api/v1/vods/${vod.id}` })).statusCode, 401, 'anonymous viewers are refused');
    t.equal((await server.app.inject({ url: `/api/v1/vods/${vod.id}`, headers: bobAuth })).statusCode, 403, 'other users are refused');
    t.equal((await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json().vods.length, 0, 'not listed for others');
    t.equal((await fetch(`${base}/vod/${vod.id}/master.m3u8`)).status, 403, 'its media needs a signed URL');
    const signed = (await server.app.inject({ url: `/api/v1/vods/${vod.id}`, headers: aliceAuth })).json().playbackUrl;
    t.match(signed, /\?exp=\d+&sig=/);
    const res = await fetch(new URL(signed, base));
    t.equal(res.status, 200, 'the owner plays it with the signed URL');
    t.match(await res.text(), /index\.m3u8\?exp=\d+&sig=/, 'the playlist passes the signature on');
    // A different first character (replacing it with a fixed one left it unchanged when it already was that one).
    const tampered = signed.replace(/sig=(.)/, (_: string, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    t.not(tampered, signed);
    t.equal((await fetch(new URL(tampered, base))).status, 403, 'a tampered signature is refused');
    const decoded = await decode(new URL(signed, base).href);
    t.equal(decoded.errors, '', 'the signed VOD decodes');
  });

  t.test('deleting a VOD removes its objects', async (t) => {
    t.ok((await server.storage.list(`vods/${vod.id}/`)).length > 10, 'objects before');
    t.equal((await server.app.inject({ method: 'DELETE', url: `/api/v1/vods/${vod.id}`, headers: bobAuth })).statusCode, 403, 'not by others');
    const del = await server.app.inject({ method: 'DELETE', url: `/api/v1/vods/${vod.id}`, headers: aliceAuth });
    t.equal(del.statusCode, 204);
    t.same(await server.storage.list(`vods/${vod.id}/`), [], 'no object left');
    t.equal((await server.app.inject({ url: `/api/v1/vods/${vod.id}`, headers: aliceAuth })).statusCode, 404);
  });

  t.test('ffmpeg restarted mid-stream: the VOD keeps the discontinuity and decodes across it', async (t) => {
    const restarted = await streamToVod(server, rtmp, alice.accessToken, 16, async () => {
      const session = server.live.live()[0]!;
      await until(() => (renditionNow(session, '240p')?.segmentCount ?? 0) >= 4, 'a few segments before the kill', 20_000);
      const pid = session.killFfmpeg();
      await until(() => session.ffmpegPid && session.ffmpegPid !== pid, 'a new ffmpeg', 10_000);
    });
    t.equal(restarted.status, 'ready');
    const playlist = await (await fetch(`${base}/vod/${restarted.id}/240p/index.m3u8`)).text();
    t.match(playlist, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1\.mp4"/, 'the restart is marked, with the new run\'s init section');
    await checkComplete(t, server, base, restarted);
    const result = await decode(`${base}/vod/${restarted.id}/master.m3u8`);
    t.equal(result.errors, '', 'decodes end to end across the restart');
  });

  t.test('a 10 s storage outage mid-stream still yields a complete VOD', async (t) => {
    const outage = await streamToVod(server, rtmp, alice.accessToken, STREAM_S, async (sessionId) => {
      const vodOf = () => server.database.db.selectFrom('vods').select('id').where('live_session_id', '=', sessionId).executeTakeFirst();
      const uploaded = async () => {
        const v = await vodOf();
        if (!v) return 0;
        return (await server.database.db.selectFrom('vod_uploads').select((eb) => eb.fn.countAll<number>().as('n')).where('vod_id', '=', v.id).where('state', '=', 'uploaded').executeTakeFirstOrThrow()).n;
      };
      await until(async () => Number(await uploaded()) >= 8, 'a few segments uploaded', 30_000);
      await s3.stop();
      const stoppedAt = Date.now();
      const v = (await vodOf())!;
      const pending = () => server.database.db.selectFrom('vod_uploads').select((eb) => eb.fn.countAll<number>().as('n')).where('vod_id', '=', v.id).where('state', '=', 'pending').executeTakeFirstOrThrow();
      await until(async () => Number((await pending()).n) >= 4 && Date.now() - stoppedAt >= 10_000, 'ten seconds of outage with uploads waiting', 30_000, 250);
      await s3.restart();
    });
    t.equal(outage.status, 'ready');
    await checkComplete(t, server, base, outage);
    const result = await decode(`${base}/vod/${outage.id}/master.m3u8`);
    t.equal(result.errors, '', 'decodes end to end');
    t.ok(Math.abs(result.duration - STREAM_S) <= 1, `duration ${result.duration} s`);
  });
});


t.test('kill -9 of the server mid-stream: the VOD is finalised from what reached the disk', async (t) => {
  const { spawn } = await import('node:child_process');
  const { readdir } = await import('node:fs/promises');
  const { default: pg } = await import('pg');
  const { createTestDatabase, freePort, tempDir, TEST_REDIS_URL, uniquePrefix } = await import('../helpers/services.ts');
  const s3 = await startS3Server(t);
  const dataDir = await tempDir(t, 'spillway-kill');
  const databaseUrl = await createTestDatabase(t);
  const [port, rtmpPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    HOST: '127.0.0.1', PORT: String(port), RTMP_PORT: String(rtmpPort), DATA_DIR: dataDir, DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix('kill'), ARCHIVER: 'external', LADDER: '240:400', LIVE_GRACE_S: '0', LIVE_TILE_BATCH: '10', LOG_LEVEL: 'warn', ...s3Env(s3),
  };
  // The server as deployed, and the archiver as its own process (`npm run archiver`) beside it.
  const start = (entry: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    return { child, exited };
  };
  const base = `http://127.0.0.1:${port}`;
  const up = () => until(() => fetch(`${base}/healthz`).then((r) => r.ok, () => false), 'the server to answer', 30_000, 100);
  let server = start('src/main.ts');
  let archiver = start('vod/archiver-main.ts');
  await up();
  const reg = await (await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', email: 'carol@example.test', password: 'correct horse battery' }) })).json();
  const key = (await (await fetch(`${base}/api/v1/channels/carol/stream-key`, { headers: { authorization: `Bearer ${reg.accessToken}` } })).json()).streamKey;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const count = async (state: string) =>
    Number((await db.query(`select count(*) as n from vod_uploads where state = $1 and kind = 'segment' and rendition = '240p'`, [state])).rows[0].n);

  const publisher = publish(t, `rtmp://127.0.0.1:${rtmpPort}/live/${key}`, { seconds: 120 });
  await until(async () => (await count('uploaded')) >= 8, 'segments uploaded', 40_000, 100);
  // Seek-preview tiles are made as the stream goes; those made before the kill are kept, not remade.
  const { rows: [live] } = await db.query(`select id from live_sessions`);
  const tileDir = `${dataDir}/media/live/${live.id}/.tiles/240p`;
  const { stat } = await import('node:fs/promises');
  const tilesMade = await until(async () => {
    const files = (await readdir(tileDir).catch(() => [])).filter((f) => f.endsWith('.jpg'));
    return files.length >= 10 ? files : null;
  }, 'tiles made while live', 40_000, 100);
  const madeAt = new Map(await Promise.all(tilesMade.map(async (f) => [f, (await stat(`${tileDir}/${f}`)).mtimeMs] as const)));
  // Storage goes away first, so the kill leaves journaled uploads pending for the restart.
  await s3.stop();
  await until(async () => (await count('pending')) >= 3, 'uploads pending', 20_000, 100);
  server.child.kill('SIGKILL');
  archiver.child.kill('SIGKILL');
  await Promise.all([server.exited, archiver.exited]);
  await publisher.stop();
  const pendingAtKill = await count('pending');
  t.ok(pendingAtKill >= 3, `${pendingAtKill} uploads were pending at the kill`);
  await s3.restart();
  const { rows } = await db.query(`select id from live_sessions`);
  const sessionId = rows[0].id as string;
  const onDisk = async (rendition: string) =>
    (await readdir(`${dataDir}/media/live/${sessionId}/${rendition}`)).flatMap((f) => (/^seg-(\d+)\.m4s$/.test(f) ? [Number(f.slice(4, -4))] : []));
  const newest = Math.max(...(await onDisk('240p')));
  t.ok(newest >= 10, `the packager had written up to seg-${newest} when it was killed`);

  server = start('src/main.ts');
  archiver = start('vod/archiver-main.ts');
  await up();
  const vod = await until(async () => {
    const r = await db.query(`select v.id, v.status, v.duration_s, s.end_reason from vods v join live_sessions s on s.id = v.live_session_id`);
    return r.rows[0]?.status === 'ready' ? r.rows[0] : null;
  }, 'the interrupted VOD to be ready', 60_000, 100);
  t.equal(vod.end_reason, 'server-restart', 'the interrupted session ended with reason server-restart');
  const playlist = await (await fetch(`${s3.endpoint}/${s3.bucket}/vods/${vod.id}/240p/index.m3u8`)).text();
  const uris = playlist.split('\n').filter((l) => l.startsWith('seg-'));
  t.same(uris, uris.map((_, i) => `seg-${i}.m4s`), 'no segment is missing');
  t.ok(uris.length >= newest + 1, `every segment that reached the disk is in the VOD (${uris.length} ≥ ${newest + 1})`);
  const result = await decode(`${s3.endpoint}/${s3.bucket}/vods/${vod.id}/master.m3u8`);
  t.equal(result.errors, '', 'the VOD decodes end to end');
  t.ok(Math.abs(result.duration - vod.duration_s) <= 1, `ffprobe duration ${result.duration} s matches the recorded ${vod.duration_s} s`);
  const track = await previewTrack(`${s3.endpoint}/${s3.bucket}/vods/${vod.id}/thumbnails.vtt`, `${s3.endpoint}/${s3.bucket}/vods/${vod.id}/sprite.jpg`);
  checkCoverage(t, track, vod.duration_s);
  const remade = [];
  for (const [file, mtime] of madeAt) if ((await stat(`${tileDir}/${file}`)).mtimeMs !== mtime) remade.push(file);
  t.same(remade, [], `the ${madeAt.size} tiles made before the kill were used as they were`);
});

t.test('a channel at its storage limit: the stream ends cleanly with a complete VOD, and new streams are refused', async (t) => {
  const server = await startTestServer(t, { LADDER: '', LIVE_GRACE_S: '0', CHANNEL_STORAGE_LIMIT_MB: '1' });
  const dave = await registerUser(server, 'dave');
  const rtmp = `rtmp://127.0.0.1:${server.ingest.port}/live/${await streamKeyOf(server, dave.accessToken, 'dave')}`;
  const publisher = publish(t, rtmp, { seconds: 90 });
  const session = await until(() => server.live.live()[0], 'the stream to go live', 20_000);
  const ended = await until(async () => {
    const row = await server.database.db.selectFrom('live_sessions').select(['end_reason', 'ended_at']).where('id', '=', session.id).executeTakeFirst();
    return row?.ended_at ? row : null;
  }, 'the stream to be ended at the limit', 60_000, 250);
  t.equal(ended.end_reason, 'storage-quota', 'ended with reason storage-quota');
  t.ok(ended.ended_at!.getTime() - session.startedAt.getTime() < 45_000, 'long before the publisher stopped');
  await publisher.exited;
  const vod = await until(async () => {
    const row = await server.database.db.selectFrom('vods').select(['id', 'status', 'duration_s', 'size_bytes']).where('live_session_id', '=', session.id).executeTakeFirst();
    return row?.status === 'ready' ? row : null;
  }, 'the VOD to be ready', 60_000);
  const base = await server.listen();
  const result = await decode(`${base}/vod/${vod.id}/master.m3u8`);
  t.equal(result.errors, '', 'what was recorded decodes end to end');
  t.ok(result.duration > 2 && Math.abs(result.duration - vod.duration_s) <= 1, `a VOD of ${result.duration} s`);

  const refused = publish(t, rtmp, { seconds: 20 });
  t.not(await refused.exited, 0, 'a new stream is refused');
  t.match(server.logs(), /"reason":"storage-quota"[^\n]*rtmp publish refused/, 'and the refusal is logged with its reason');
  t.same(server.live.live(), [], 'nothing went live');

  t.equal((await server.app.inject({ method: 'DELETE', url: `/api/v1/vods/${vod.id}`, headers: { authorization: `Bearer ${dave.accessToken}` } })).statusCode, 204);
  const again = publish(t, rtmp, { seconds: 20 });
  await until(() => server.live.live()[0], 'a stream to go live once the old VOD is deleted', 20_000);
  await again.stop();
});

t.test('with CDN_URL, public VOD media points at the CDN; private media stays behind signed URLs', async (t) => {
  const server = await startTestServer(t, { CDN_URL: 'https://cdn.example.test/rec' });
  const erin = await registerUser(server, 'erin');
  const db = server.database.db;
  const channelId = (await server.channels.bySlug('erin'))!.id;
  const session = await db.insertInto('live_sessions').values({ channel_id: channelId, started_at: new Date(), ended_at: new Date(), end_reason: 'unpublished' }).returning('id').executeTakeFirstOrThrow();
  const vod = await db
    .insertInto('vods')
    .values({ live_session_id: session.id, channel_id: channelId, started_at: new Date(), storage_prefix: 'vods/cdn-test', status: 'ready', thumbnail_key: 'vods/cdn-test/poster.jpg' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const pub = (await server.app.inject({ url: `/api/v1/vods/${vod.id}` })).json();
  t.equal(pub.playbackUrl, 'https://cdn.example.test/rec/vods/cdn-test/master.m3u8', 'the master playlist on the CDN');
  t.equal(pub.thumbnailUrl, 'https://cdn.example.test/rec/vods/cdn-test/poster.jpg');
  const media = await server.app.inject({ url: `/vod/${vod.id}/240p/seg-0.m4s` });
  t.equal(media.statusCode, 302, 'media asked of the server is sent to the CDN');
  t.equal(media.headers.location, 'https://cdn.example.test/rec/vods/cdn-test/240p/seg-0.m4s');
  await db.updateTable('vods').set({ visibility: 'private' }).where('id', '=', vod.id).execute();
  const priv = (await server.app.inject({ url: `/api/v1/vods/${vod.id}`, headers: { authorization: `Bearer ${erin.accessToken}` } })).json();
  t.match(priv.playbackUrl, new RegExp(`^/vod/${vod.id}/master\\.m3u8\\?exp=\\d+&sig=`), 'a private VOD plays only through a signed server URL');
});
