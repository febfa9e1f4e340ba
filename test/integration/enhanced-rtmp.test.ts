// Enhanced RTMP end to end: HEVC and AV1 publishes (as OBS 30+ sends them, from the TypeScript test
// publisher) are packaged with the source passed through natively (hvc1 / av01 in fMP4, the right
// CODECS in the master) and an H.264 rung transcoded from the same stream, every rendition decodable.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';
import { encodeFragmentedMp4, type TestVideoCodec } from '../helpers/encoded-media.ts';
import { buildTags } from '../helpers/enhanced-tags.ts';
import { until } from '../helpers/media.ts';
import { readMp4Samples } from '../helpers/mp4-samples.ts';
import { publishRtmp } from '../helpers/rtmp-publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { renditionNow } from '../helpers/live-view.ts';

const run = promisify(execFile);

/** CODECS of each variant, by its URI. */
function variants(master: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const lines = master.split('\n');
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const attrs = Object.fromEntries([...line.slice(18).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map((m) => [m[1]!, m[2]!.replace(/"/g, '')]));
    out.set(lines[i + 1]!, attrs);
  });
  return out;
}

t.test('HEVC and AV1 over Enhanced RTMP: native source, H.264 rung', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400' });
  const base = await server.listen();
  const dir = await tempDir(t, 'enhanced-rtmp');
  const cases: Array<{ codec: TestVideoCodec; fourCc: string; codecs: RegExp; probeName: string; audio: 'aac' | 'opus' }> = [
    { codec: 'hevc', fourCc: 'hvc1', codecs: /^hvc1\.1\.6\.L\d+(\.[0-9A-F]+)*,mp4a\.40\.2$/, probeName: 'hevc', audio: 'aac' },
    { codec: 'av1', fourCc: 'av01', codecs: /^av01\.0\.\d\dM\.08,opus$/, probeName: 'av1', audio: 'opus' },
  ];
  for (const c of cases) {
    await t.test(`${c.codec.toUpperCase()} + ${c.audio.toUpperCase()}`, async (t) => {
      const user = await registerUser(server, `${c.codec}streamer`);
      const auth = { authorization: `Bearer ${user.accessToken}` };
      const { streamKey } = (await server.app.inject({ url: `/api/v1/channels/${c.codec}streamer/stream-key`, headers: auth })).json();
      const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: c.codec, audio: c.audio, seconds: 4 })));
      const publisher = publishRtmp(t, {
        port: server.ingest.port,
        key: streamKey,
        tags: buildTags(tracks.map((track) => ({ track })), { enhanced: true }),
        metadata: { width: 640, height: 360, framerate: 30, videocodecid: Buffer.from(c.fourCc).readUInt32BE(), audiocodecid: Buffer.from(c.audio === 'aac' ? 'mp4a' : 'Opus').readUInt32BE() },
        seconds: 120,
      });
      await publisher.started;
      const live = await until(async () => {
        const channel = (await server.app.inject({ url: `/api/v1/channels/${c.codec}streamer` })).json();
        return channel.live ? channel : null;
      }, 'the channel to go live', 20_000);
      const session = server.live.live().find((s) => s.slug === `${c.codec}streamer`)!;
      await until(() => (renditionNow(session, '240p')?.segmentCount ?? 0) >= 2 && (renditionNow(session, 'source')?.segmentCount ?? 0) >= 2, 'two segments in each rendition', 60_000);

      const masterUrl = `${base}${live.playbackUrl}`;
      const master = await (await fetch(masterUrl)).text();
      t.same(validateMasterPlaylist(master), [], 'the master playlist is valid');
      const v = variants(master);
      t.match(v.get('source/index.m3u8'), { CODECS: c.codecs, RESOLUTION: '640x360' }, `source passes ${c.fourCc} through, with its CODECS`);
      t.match(v.get('240p/index.m3u8'), { CODECS: /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/, RESOLUTION: '426x240' }, 'the rung is H.264 + AAC for every browser');
      t.ok(Number(v.get('source/index.m3u8')?.BANDWIDTH) > Number(v.get('240p/index.m3u8')?.BANDWIDTH), 'the source is listed above the rung');

      const sessionDir = path.join(server.config.mediaDir, 'live', session.id);
      for (const [name, video] of [['source', c.probeName], ['240p', 'h264']] as const) {
        const text = await (await fetch(masterUrl.replace(/master\.m3u8$/, `${name}/index.m3u8`))).text();
        t.same(validateMediaPlaylist(text, { lowLatency: true }), [], `${name} playlist is valid LL-HLS`);
        const joined = path.join(dir, `${c.codec}-${name}.mp4`);
        await writeFile(joined, Buffer.concat([await readFile(path.join(sessionDir, name, 'init-0.mp4')), await readFile(path.join(sessionDir, name, 'seg-1.m4s'))]));
        const { stdout, stderr } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', joined, '-map', '0:v', '-f', 'framecrc', '-'], { timeout: 60_000 });
        const frames = stdout.split('\n').filter((l) => /^0,/.test(l)).length;
        t.equal(stderr.trim(), '', `${name}: segment 1 decodes without an error`);
        t.ok(frames >= 28, `${name}: segment 1 holds ${frames} frames`);
        const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', joined])).stdout) as { streams: Array<{ codec_name: string; width?: number }> };
        t.same(probe.streams.map((s) => s.codec_name), [video, name === 'source' ? c.audio : 'aac'], `${name}: ${video} video`);
      }
      await publisher.stop();
      await until(() => !server.live.live().some((s) => s.slug === `${c.codec}streamer`), 'the stream to end', 15_000);
    });
  }
});

t.test('an OBS-style multitrack ladder (Enhanced RTMP v2, three H.264 tracks): each track a rendition, nothing transcoded', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400' });
  const base = await server.listen();
  const dir = await tempDir(t, 'multitrack');
  const user = await registerUser(server, 'multi');
  const auth = { authorization: `Bearer ${user.accessToken}` };
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/multi/stream-key', headers: auth })).json();
  const sizes = [[640, 360], [480, 270], [320, 180]] as const;
  // one encoder clock for every track, as in OBS: video-only encodes, the audio from one more
  const files = await Promise.all(sizes.map(([width, height]) => encodeFragmentedMp4(dir, { codec: 'h264', width, height, seconds: 4, audio: null })));
  const perFile = await Promise.all(files.map(async (f) => readMp4Samples(await readFile(f))));
  const audio = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', width: 160, height: 90, seconds: 4, audio: 'aac' }))).find((x) => x.kind === 'audio')!;
  const tracks = [...perFile.map((fileTracks, i) => ({ track: fileTracks[0]!, trackId: i })), { track: audio, trackId: 0 }];
  const publisher = publishRtmp(t, {
    port: server.ingest.port,
    key: streamKey,
    tags: buildTags(tracks, { enhanced: true, multitrack: true }),
    metadata: { width: 640, height: 360, framerate: 30 },
    seconds: 120,
  });
  await publisher.started;
  const live = await until(async () => {
    const channel = (await server.app.inject({ url: '/api/v1/channels/multi' })).json();
    return channel.live ? channel : null;
  }, 'the channel to go live', 20_000);
  const session = server.live.live()[0]!;
  const names = ['source', 'track1', 'track2'];
  await until(() => names.every((n) => (renditionNow(session, n)?.segmentCount ?? 0) >= 3), 'three segments in every track', 60_000);
  t.equal(session.ffmpegPid, undefined, 'no ffmpeg runs for this stream');
  const health = (await server.app.inject({ url: '/api/v1/channels/multi/ingest-health', headers: auth })).json();
  t.match(health, { videoCodec: 'h264', audioCodec: 'aac' }, 'the streamer\'s ingest health names the codecs, not "other"');

  const masterUrl = `${base}${live.playbackUrl}`;
  const master = await (await fetch(masterUrl)).text();
  t.same(validateMasterPlaylist(master), [], 'the master playlist is valid');
  const v = variants(master);
  t.same([...v.keys()], names.map((n) => `${n}/index.m3u8`), 'three variants, largest first');
  const sessionDir = path.join(server.config.mediaDir, 'live', session.id);
  for (const [i, name] of names.entries()) {
    const attrs = v.get(`${name}/index.m3u8`)!;
    t.match(attrs, { CODECS: /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/, RESOLUTION: `${sizes[i]![0]}x${sizes[i]![1]}` }, `${name}: its own size, with the shared audio`);
    const text = await (await fetch(masterUrl.replace(/master\.m3u8$/, `${name}/index.m3u8`))).text();
    t.same(validateMediaPlaylist(text, { lowLatency: true }), [], `${name} playlist is valid LL-HLS`);
    // BANDWIDTH is the peak segment bit rate (§4.4.6.2): no listed segment may exceed it
    const segments = [...text.matchAll(/#EXTINF:([\d.]+),\n(seg-\d+\.m4s)/g)];
    let peak = 0;
    for (const [, duration, uri] of segments) peak = Math.max(peak, ((await readFile(path.join(sessionDir, name, uri!))).length * 8) / Number(duration));
    t.ok(Number(attrs.BANDWIDTH) >= peak, `${name}: BANDWIDTH ${attrs.BANDWIDTH} covers the peak segment rate ${Math.round(peak)}`);
    const joined = path.join(dir, `${name}.mp4`);
    await writeFile(joined, Buffer.concat([await readFile(path.join(sessionDir, name, 'init-0.mp4')), await readFile(path.join(sessionDir, name, 'seg-1.m4s'))]));
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', joined])).stdout) as { streams: Array<{ codec_name: string; width?: number; nb_read_frames: string }> };
    t.match(probe.streams, [{ codec_name: 'h264', width: sizes[i]![0] }, { codec_name: 'aac' }], `${name} decodes: H.264 at ${sizes[i]![0]} wide, AAC`);
    t.ok(Number(probe.streams[0]!.nb_read_frames) >= 28, `${name}: segment 1 has ${probe.streams[0]!.nb_read_frames} frames`);
  }
  await publisher.stop();
});

t.test('a codec Spillway cannot package is refused cleanly; another stream is untouched', async (t) => {
  const server = await startTestServer(t, { LADDER: '' });
  const dir = await tempDir(t, 'refused');
  const key = async (name: string) => {
    const user = await registerUser(server, name);
    return (await server.app.inject({ url: `/api/v1/channels/${name}/stream-key`, headers: { authorization: `Bearer ${user.accessToken}` } })).json().streamKey as string;
  };
  const goodKey = await key('good');
  const badKey = await key('vpnine');
  const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', seconds: 4 })));
  const good = publishRtmp(t, { port: server.ingest.port, key: goodKey, tags: buildTags(tracks.map((track) => ({ track })), { enhanced: false }), metadata: { width: 640, height: 360, framerate: 30 }, seconds: 120 });
  await good.started;
  await until(() => server.live.live().find((s) => s.slug === 'good')?.ready, 'the good stream to be ready', 20_000);
  const parts = () => renditionNow(server.live.live().find((s) => s.slug === 'good'), 'source')?.nextPartNumber ?? 0;

  // VP9 over Enhanced RTMP: a FourCC the ingest recognises but the packager cannot package
  const vp9 = [
    { type: 9 as const, timestamp: 0, data: Buffer.concat([Buffer.from([0x90]), Buffer.from('vp09'), Buffer.alloc(12, 1)]) },
    ...Array.from({ length: 60 }, (_, i) => ({ type: 9 as const, timestamp: i * 33, data: Buffer.concat([Buffer.from([i % 60 === 0 ? 0x91 : 0xa1]), Buffer.from('vp09'), Buffer.alloc(500, i)]) })),
  ];
  const bad = publishRtmp(t, { port: server.ingest.port, key: badKey, tags: vp9, metadata: { width: 640, height: 360, framerate: 30, videocodecid: Buffer.from('vp09').readUInt32BE() }, seconds: 30 });
  await bad.started;
  await bad.done;
  t.pass('the VP9 publisher is disconnected');
  t.notOk(server.live.live().some((s) => s.slug === 'vpnine'), 'no live session for it');
  t.match(server.logs(), /Video codec VP9 is not supported/, 'the log says why');
  t.notOk(server.logs().includes(badKey), 'without the key');
  const before = parts();
  await until(() => parts() >= before + 5, 'the other stream to keep making parts', 10_000);
  t.pass('the other stream kept making parts');
  await good.stop();
});

// H.264 reaches the ladder's ffmpeg as FLV, which carries the new sequence header in line; HEVC as
// fMP4, where ffmpeg 5.1 would skip the second moov, so the ladder's ffmpeg is started again.
for (const codec of ['h264', 'hevc'] as const) t.test(`a new decoder configuration mid-stream (640×360 → 426×240 ${codec}): a new init section after a discontinuity, both halves decode, the ladder goes on`, async (t) => {
  const server = await startTestServer(t, { LADDER: '180:300' });
  const base = await server.listen();
  const dir = await tempDir(t, 'config-change');
  const user = await registerUser(server, 'resizer');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/resizer/stream-key', headers: { authorization: `Bearer ${user.accessToken}` } })).json();
  // Two encodes back to back on one clock, as when OBS restarts its encoder with a new size: the
  // second starts with its own sequence headers.
  const enhanced = codec !== 'h264';
  const first = buildTags(readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec, width: 640, height: 360, seconds: 6 }))).map((track) => ({ track })), { enhanced });
  const second = buildTags(readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec, width: 426, height: 240, seconds: 6 }))).map((track) => ({ track })), { enhanced });
  const publisher = publishRtmp(t, {
    port: server.ingest.port,
    key: streamKey,
    tags: [...first, ...second.map((tag) => ({ ...tag, timestamp: tag.timestamp + 6000 }))],
    metadata: { width: 640, height: 360, framerate: 30 },
    // one pass: the publisher sends sequence headers on its first pass only
    seconds: 12,
  });
  await publisher.started;
  const live = await until(async () => {
    const channel = (await server.app.inject({ url: '/api/v1/channels/resizer' })).json();
    return channel.live ? channel : null;
  }, 'the channel to go live', 20_000);
  const session = server.live.live().find((s) => s.slug === 'resizer')!;
  const changedAt = await until(() => renditionNow(session, 'source')?.lastDiscontinuityMsn ?? null, 'a discontinuity in the source rendition', 30_000);
  const rungAtChange = renditionNow(session, '180p')?.lastMsn ?? 0;
  await until(() => (renditionNow(session, 'source')?.lastMsn ?? 0) > changedAt, 'a complete segment after the change', 20_000);
  // The ladder's ffmpeg reads the new sequence header in its FLV input and keeps encoding.
  await until(() => (renditionNow(session, '180p')?.lastMsn ?? 0) >= rungAtChange + 3, 'rung segments after the change', 20_000);
  const newest = renditionNow(session, '180p')!.newestSegment!;
  const rungBase = `${base}${live.playbackUrl}`.replace(/master\.m3u8$/, '180p/');
  const fetchBytes = async (file: string) => Buffer.from(await (await fetch(`${rungBase}${file}`)).arrayBuffer());
  const rungText = await (await fetch(`${rungBase}index.m3u8`)).text();
  t.same(validateMediaPlaylist(rungText, { lowLatency: true }), [], 'the rung\'s playlist stays valid');
  const rungJoined = path.join(dir, 'rung-after.mp4');
  await writeFile(rungJoined, Buffer.concat([await fetchBytes(newest.mapUri), await fetchBytes(newest.uri)]));
  const rungProbe = await run('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v', '-show_entries', 'stream=height,nb_read_packets', '-of', 'json', rungJoined]);
  const rungStream = (JSON.parse(rungProbe.stdout) as { streams: Array<{ height: number; nb_read_packets: string }> }).streams[0]!;
  t.equal(rungStream.height, 180, `the rung's ${newest.uri}, after the change, is 180 lines high`);
  t.ok(Number(rungStream.nb_read_packets) >= 28, `with ${rungStream.nb_read_packets} frames`);
  const decoded = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', rungJoined, '-f', 'null', '-']);
  t.equal(decoded.stderr.trim(), '', 'which decode without an error');
  const rungRestarted = renditionNow(session, '180p')!.lastDiscontinuityMsn !== null;
  t.equal(rungRestarted, codec !== 'h264', codec === 'h264' ? 'the rung\'s ffmpeg read the change in line' : 'the rung\'s ffmpeg was started again with the new configuration');

  const text = await (await fetch(`${base}${live.playbackUrl}`.replace(/master\.m3u8$/, 'source/index.m3u8'))).text();
  t.same(validateMediaPlaylist(text, { lowLatency: true }), [], 'the playlist stays valid LL-HLS across the change');
  // Each listed segment with the EXT-X-MAP in force where it is listed.
  const listed: Array<{ map: string; uri: string; discontinuity: boolean }> = [];
  let map = '';
  let discontinuity = false;
  for (const line of text.split('\n')) {
    const m = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (m) map = m[1]!;
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    if (/^seg-\d+\.m4s$/.test(line)) {
      listed.push({ map, uri: line, discontinuity });
      discontinuity = false;
    }
  }
  const after = listed.findIndex((s) => s.discontinuity);
  t.ok(after > 0, 'a segment after the change is marked EXT-X-DISCONTINUITY');
  t.not(listed[after]!.map, listed[after - 1]!.map, 'and has a new EXT-X-MAP');
  const sessionDir = path.join(server.config.mediaDir, 'live', session.id, 'source');
  for (const [segment, width, height] of [[listed[after - 1]!, 640, 360], [listed[after]!, 426, 240]] as const) {
    const joined = path.join(dir, `joined-${segment.uri}.mp4`);
    await writeFile(joined, Buffer.concat([await readFile(path.join(sessionDir, segment.map)), await readFile(path.join(sessionDir, segment.uri))]));
    const { stdout, stderr } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v', '-show_entries', 'stream=width,height,nb_read_frames', '-of', 'json', joined]);
    const stream = (JSON.parse(stdout) as { streams: Array<{ width: number; height: number; nb_read_frames: string }> }).streams[0]!;
    t.match(stream, { width, height }, `${segment.uri} with ${segment.map} decodes at ${width}×${height}`);
    t.ok(Number(stream.nb_read_frames) >= 28, `${segment.uri}: ${stream.nb_read_frames} frames`);
    t.equal(stderr.trim(), '', `${segment.uri}: no decode error`);
  }
  t.notOk(server.logs().includes(streamKey), 'the key is in no log line');
  await publisher.done;
});
