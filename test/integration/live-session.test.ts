// The packager on a real encoder's stream: an FLV's tags delivered in real time as the ingest
// delivers a publish, the source muxed natively and the ladder made by ffmpeg through the
// production argv, packaged into LL-HLS, checked with the playlist validator and ffprobe.
import { readFile, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { buildFfmpegArgs } from '../../packager/ffmpeg-args.ts';
import { LiveSession } from '../../packager/live-session.ts';
import { createLogger } from '../../src/log.ts';
import { validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';
import { makeFlv, probe, until } from '../helpers/media.ts';
import { tempDir } from '../helpers/services.ts';
import { renditionNow } from '../helpers/live-view.ts';
import { playFlvTags } from '../helpers/flv-file.ts';

t.test('a live session packages the ladder as valid LL-HLS, survives an ffmpeg crash, and ends cleanly', async (t) => {
  const dir = await tempDir(t, 'live-session');
  const source = await makeFlv(dir, { seconds: 12, gop: 2 });
  const args = () => buildFfmpegArgs({ inputUrl: 'pipe:0', inputIsH264Aac: false, nativeSource: { inputFormat: 'flv' }, source: { width: 640, height: 360, fps: 30 }, ladder: [{ name: '240p', height: 240, videoBitrateKbps: 400, audioBitrateKbps: 64 }] });
  const rungs = args().outputs;
  const session = new LiveSession({
    id: '00000000-0000-4000-8000-000000000001',
    channelId: 'c1',
    slug: 'test',
    mediaDir: dir,
    ffmpegPath: 'ffmpeg',
    buildRun: args,
    native: [{ name: 'source', videoTrack: 0, audioTrack: 0 }],
    ladderInput: { videoTrack: 0, audioTrack: 0, format: 'flv' },
    renditions: [
      { name: 'source', width: 640, height: 360, frameRate: 30, bandwidth: 800_000, passthrough: true },
      ...rungs.map((o) => ({ name: o.name, width: o.width, height: o.height, frameRate: o.frameRate, bandwidth: (o.videoBitrateKbps + o.audioBitrateKbps) * 1000, passthrough: o.passthrough })),
    ],
    partTarget: 0.2,
    segmentTarget: 1,
    windowSegments: 60,
    maxRestarts: 3,
    log: createLogger('silent'),
  });
  t.teardown(() => session.end('server-shutdown'));
  session.attach(playFlvTags(await readFile(source), { loops: 3 }));

  const segmentCount = (name: string) => renditionNow(session, name)!.segmentCount;
  const playlist = async (name: string) => {
    const result = await session.mediaPlaylist(name, { skip: false });
    if (result.kind !== 'ready') throw new Error(`no ${name} playlist: ${result.code}`);
    return result.text;
  };
  await until(() => segmentCount('240p') >= 3 && segmentCount('source') >= 1, 'three 240p segments', 60_000);

  const master = session.master()!;
  t.same(validateMasterPlaylist(master), [], 'master playlist is valid');
  t.match(master, /RESOLUTION=640x360/);
  t.match(master, /CODECS="avc1\.[0-9a-fA-F]{6},mp4a\.40\.2"/);
  for (const name of ['source', '240p']) {
    const text = await playlist(name);
    t.same(validateMediaPlaylist(text, { lowLatency: true }), [], `${name} media playlist is valid LL-HLS`);
    t.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.m4s"/);
    t.match(text, /#EXT-X-RENDITION-REPORT:URI="\.\.\/(source|240p)\/index\.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);
  }
  // Durations as the packager measured them, not as the playlist rounds them.
  const low = session.packagerForTests('240p')!;
  const lowSegments = low.state.segments.slice(0, 3);
  for (const s of lowSegments) t.ok(Math.abs(s.duration - 1) < 0.05, `240p segment ${s.mediaSequence} lasts ~1 s (${s.duration.toFixed(3)})`);
  for (const s of lowSegments) for (const p of s.parts) t.ok(p.duration <= 0.2 + 1e-6, `part ${p.uri} within PART-TARGET (${p.duration.toFixed(3)})`);

  // A segment is init + its fragments: ffprobe decodes it whole.
  const lowDir = path.join(dir, 'live', session.id, '240p');
  await low.idle();
  const joined = path.join(dir, 'joined.mp4');
  await writeFile(joined, Buffer.concat([await readFile(path.join(lowDir, 'init-0.mp4')), await readFile(path.join(lowDir, 'seg-1.m4s'))]));
  const probed = await probe(joined);
  t.same(probed.codecs.sort(), ['aac', 'h264']);
  t.ok(probed.frames >= 28 && probed.frames <= 32, `segment 1 holds one second of video (${probed.frames} frames)`);

  // ffmpeg dies: the session restarts it and the playlists continue after a discontinuity.
  const before = segmentCount('240p');
  const pid = session.killFfmpeg();
  t.ok(pid, 'ffmpeg was running');
  await until(() => session.ffmpegPid && session.ffmpegPid !== pid, 'a new ffmpeg', 30_000);
  await until(() => (renditionNow(session, '240p')!.lastDiscontinuityMsn ?? -1) >= before, 'a discontinuity segment', 60_000);
  const after = await playlist('240p');
  t.match(after, /#EXT-X-DISCONTINUITY\n/);
  t.match(after, /#EXT-X-MAP:URI="init-1\.mp4"/, 'the new run brings its own init section');
  t.same(validateMediaPlaylist(after, { lowLatency: true }), [], 'still valid after the restart');
  t.equal(session.restartCount, 1);
  const sourceAfter = await playlist('source');
  t.notMatch(sourceAfter, /#EXT-X-DISCONTINUITY\n/, 'the natively muxed source rendition did not notice');
  for (const s of session.packagerForTests('source')!.state.segments) for (const p of s.parts) t.ok(p.duration <= 0.2 + 1e-6, `source part ${p.uri} within PART-TARGET (${p.duration.toFixed(3)})`);

  await session.end('unpublished');
  const ended = await playlist('240p');
  t.match(ended, /#EXT-X-ENDLIST\s*$/);
  t.notMatch(ended, /PRELOAD-HINT/);
  t.same(validateMediaPlaylist(ended), [], 'the ended playlist is valid');
  const files = await readdir(lowDir);
  t.notOk(files.some((f) => f.endsWith('.tmp')), 'no temporary files left behind');
});
