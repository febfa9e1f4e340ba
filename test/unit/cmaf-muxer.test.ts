// The native CMAF muxer on what real encoders send: streams encoded by Debian's ffmpeg (libx264
// with B-frames, libx265, libsvtav1, AAC, Opus), turned into the RTMP messages an encoder sends
// (legacy FLV, Enhanced RTMP v1 and v2 multitrack), muxed, then read back by ffprobe (every packet's
// timestamps and flags against the source's) and by the packager's own Fmp4Reader.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { VIDEO_TIMESCALE, type MuxerFragment, type MuxerInit } from '../../packager/cmaf-muxer.ts';
import { FlvTagError, parseVideoTag } from '../../packager/flv-tags.ts';
import { Fmp4Reader, type FragmentEvent } from '../../packager/fmp4-reader.ts';
import { NativeSource, type NativeOutput, type SourceTag } from '../../packager/native-source.ts';
import { createLogger } from '../../src/log.ts';
import { encodeFragmentedMp4, type EncodeSpec } from '../helpers/encoded-media.ts';
import { buildTags, type RtmpTag } from '../helpers/enhanced-tags.ts';
import { readFlvTags } from '../helpers/flv-file.ts';
import { makeFlv } from '../helpers/media.ts';
import { readMp4Samples } from '../helpers/mp4-samples.ts';
import { tempDir } from '../helpers/services.ts';

const run = promisify(execFile);
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

interface Output {
  inits: MuxerInit[];
  fragments: MuxerFragment[];
  bytes: Buffer[];
}

function mux(tags: SourceTag[], outputs: NativeOutput[] = [{ name: 'source', videoTrack: 0, audioTrack: 0 }], partTarget = 0.2) {
  const byName = new Map<string, Output>(outputs.map((o) => [o.name, { inits: [], fragments: [], bytes: [] }]));
  const warnings: string[] = [];
  const log = createLogger('silent');
  log.warn = ((fields: { problem?: string }, msg?: string) => void warnings.push(fields.problem ?? msg ?? '')) as typeof log.warn;
  const source = new NativeSource({
    outputs,
    partTarget,
    log,
    sink: {
      onInit: (name, init) => {
        byName.get(name)!.inits.push(init);
        byName.get(name)!.bytes.push(init.data);
      },
      onFragment: (name, fragment) => {
        byName.get(name)!.fragments.push(fragment);
        byName.get(name)!.bytes.push(fragment.data);
      },
    },
  });
  for (const tag of tags) source.push(tag);
  source.end();
  return { out: byName, warnings, stats: source.stats };
}

async function packets(file: string, stream: 'v' | 'a'): Promise<string[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time,dts_time,flags', '-of', 'csv=p=0', file]);
  return stdout.trim().split('\n');
}

async function probeStreams(file: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width?: number; height?: number; nb_read_frames: string }> }).streams;
}

async function decodesCleanly(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  return stderr.trim();
}

/** Reads the muxed bytes back with the packager's reader and checks them against what the muxer said. */
function readBack(t: Test, output: Output, partTarget = 0.2): FragmentEvent[] {
  const reader = new Fmp4Reader();
  const events = reader.push(Buffer.concat(output.bytes));
  const inits = events.filter((e) => e.type === 'init');
  const fragments = events.filter((e): e is FragmentEvent => e.type === 'fragment');
  t.same(inits.map((e) => e.codec), output.inits.map((i) => i.codec), 'the reader finds the codecs the muxer announced');
  t.equal(fragments.length, output.fragments.length, 'one moof + mdat per fragment');
  let mismatches = 0;
  let gaps = 0;
  let tooLong = 0;
  fragments.forEach((f, i) => {
    const m = output.fragments[i]!;
    if (f.baseMediaDecodeTime !== m.baseMediaDecodeTime || f.duration !== m.duration || f.independent !== m.independent || f.sampleCount !== m.sampleCount) mismatches++;
    const next = fragments[i + 1];
    if (next && next.baseMediaDecodeTime !== f.baseMediaDecodeTime + f.duration && output.inits.length === 1) gaps++;
    const timescale = inits[0]!.timescale;
    if (f.duration / timescale > partTarget + 1e-9) tooLong++;
  });
  t.equal(mismatches, 0, 'every fragment has the decode time, duration, sample count and independence the muxer reported');
  t.equal(gaps, 0, 'each fragment starts where the previous one ended');
  t.equal(tooLong, 0, `no fragment is longer than the part target (${partTarget} s)`);
  return fragments;
}

async function tagsOf(dir: string, spec: EncodeSpec, opts: { enhanced: boolean }): Promise<RtmpTag[]> {
  const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, spec)));
  return buildTags(tracks.map((track) => ({ track })), opts);
}

t.test('H.264 with B-frames and AAC from legacy FLV: every packet as the encoder made it', async (t) => {
  const dir = await tempDir(t, 'muxer-h264');
  const flv = await makeFlv(dir, { seconds: 4, gop: 2 });
  // makeFlv uses zerolatency (no B-frames): encode one with B-frames too
  const bframes = path.join(dir, 'bframes.flv');
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '4', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', bframes]);
  for (const source of [flv, bframes]) {
    const tags = readFlvTags(await readFile(source));
    const { out } = mux(tags);
    const output = out.get('source')!;
    const file = path.join(dir, `${path.basename(source)}.mp4`);
    await writeFile(file, Buffer.concat(output.bytes));
    t.equal(output.inits.length, 1);
    t.match(output.inits[0], { codec: /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/, width: 640, height: 360, timescale: VIDEO_TIMESCALE });
    t.same(await packets(file, 'v'), await packets(source, 'v'), `${path.basename(source)}: every video packet has the source's pts, dts and keyframe flag`);
    t.equal((await packets(file, 'a')).length, (await packets(source, 'a')).length, 'every audio frame is there');
    t.equal(await decodesCleanly(file), '', 'ffmpeg decodes it without a warning');
    const fragments = readBack(t, output);
    const keyframes = fragments.filter((f) => f.independent).map((f) => (f.baseMediaDecodeTime / VIDEO_TIMESCALE).toFixed(3));
    const sourceKeyframes = (await packets(source, 'v')).filter((p) => p.endsWith(',K_')).map((p) => Number(p.split(',')[1]).toFixed(3));
    t.same(keyframes, sourceKeyframes, 'a fragment starts at each keyframe (every 2 s), so segments can');
  }
});

t.test('HEVC + AAC and AV1 + Opus over Enhanced RTMP', async (t) => {
  const dir = await tempDir(t, 'muxer-enhanced');
  const cases = [
    { spec: { codec: 'hevc', audio: 'aac', seconds: 3 } as const, codecs: /^hvc1\.1\.6\.L\d+(\.[0-9A-F]+)*,mp4a\.40\.2$/, names: ['hevc', 'aac'] },
    { spec: { codec: 'av1', audio: 'opus', seconds: 3 } as const, codecs: /^av01\.0\.\d\dM\.08,opus$/, names: ['av1', 'opus'] },
  ];
  for (const c of cases) {
    const tags = await tagsOf(dir, c.spec, { enhanced: true });
    const { out, warnings } = mux(tags);
    const output = out.get('source')!;
    const file = path.join(dir, `${c.spec.codec}.mp4`);
    await writeFile(file, Buffer.concat(output.bytes));
    t.same(warnings, [], 'nothing skipped');
    t.match(output.inits[0], { codec: c.codecs, width: 640, height: 360 });
    const streams = await probeStreams(file);
    t.same(streams.map((s) => s.codec_name), c.names, `${c.spec.codec}: ffprobe sees ${c.names.join(' + ')}`);
    t.match(streams[0], { width: 640, height: 360, nb_read_frames: '90' }, 'all 90 frames decode at the size the sequence header gives');
    t.equal(await decodesCleanly(file), '', 'ffmpeg decodes it without a warning');
    readBack(t, output);
  }
});

t.test('a new decoder configuration mid-stream starts a new init section at its keyframe', async (t) => {
  const dir = await tempDir(t, 'muxer-reconfig');
  const first = readFlvTags(await readFile(await makeFlv(dir, { seconds: 2, width: 640, height: 360 }))).filter((x) => x.type !== 18);
  const second = readFlvTags(await readFile(await makeFlv(dir, { seconds: 2, width: 320, height: 240 }))).filter((x) => x.type !== 18);
  const shift = (first.at(-1)?.timestamp ?? 0) + 33;
  const { out } = mux([...first, ...second.map((x) => ({ ...x, timestamp: x.timestamp + shift }))]);
  const output = out.get('source')!;
  t.same(output.inits.map((i) => `${i.width}x${i.height}`), ['640x360', '320x240'], 'two init sections, the second at the new size');
  const reader = new Fmp4Reader();
  const events = reader.push(Buffer.concat(output.bytes));
  const afterSecondInit = events.slice(events.findLastIndex((e) => e.type === 'init') + 1);
  t.ok(afterSecondInit[0]?.type === 'fragment' && afterSecondInit[0].independent, 'the first fragment after it starts with a keyframe');
  t.ok(afterSecondInit.length >= 9, 'and the stream goes on');

  // 100 ms parts are three 30 fps frames, each 33 or 34 ms in RTMP's milliseconds: the part the
  // change closes early must stay within PART-TARGET as well.
  const short = mux([...first, ...second.map((x) => ({ ...x, timestamp: x.timestamp + shift }))], undefined, 0.1).out.get('source')!;
  const parts = new Fmp4Reader().push(Buffer.concat(short.bytes)).filter((e) => e.type === 'fragment');
  t.same(parts.filter((e) => e.duration / VIDEO_TIMESCALE > 0.1 + 1e-9).map((e) => e.duration / VIDEO_TIMESCALE), [], 'no 100 ms part is longer than 100 ms');
});

t.test('bad input: video before its configuration, unknown codecs, timestamp jumps', async (t) => {
  const dir = await tempDir(t, 'muxer-bad');
  const tags = readFlvTags(await readFile(await makeFlv(dir, { seconds: 4 }))).filter((x) => x.type !== 18);
  const config = tags.filter((x) => x.type === 9 && x.data[1] === 0);
  const frames = tags.filter((x) => !(x.type === 9 && x.data[1] === 0));

  await t.test('frames before the configuration are dropped; packaging starts at the first keyframe after it', async (t) => {
    const late = frames.findIndex((x) => x.timestamp >= 500);
    const { out, stats } = mux([...frames.slice(0, late), ...config, ...frames.slice(late)]);
    const output = out.get('source')!;
    t.equal(output.inits.length, 1);
    t.ok(stats.source!.droppedVideo > 0, `${stats.source!.droppedVideo} early video frames dropped`);
    t.ok(output.fragments[0]!.independent, 'the first fragment starts with a keyframe');
    const secondKeyframe = frames.filter((x) => x.type === 9 && x.data[0]! >> 4 === 1)[1]!.timestamp;
    t.ok(secondKeyframe >= 2000 && secondKeyframe < 2100);
    t.equal(output.fragments[0]!.baseMediaDecodeTime, secondKeyframe * 90, 'which is the next one, 2 s in');
  });

  await t.test('unknown FourCCs and legacy codecs are refused with a typed error, and skipped by the source', async (t) => {
    t.throws(() => parseVideoTag(Buffer.concat([Buffer.from([0x91]), Buffer.from('vp08'), Buffer.alloc(8)]), 0), FlvTagError);
    t.throws(() => parseVideoTag(Buffer.from([0x12, 0, 0, 0, 0]), 0), FlvTagError, 'Sorenson H.263 (codec id 2)');
    t.throws(() => parseVideoTag(Buffer.from([0x17]), 0), FlvTagError, 'a truncated tag');
    const junk = [{ type: 9, timestamp: 100, data: Buffer.concat([Buffer.from([0x91]), Buffer.from('xyzw'), Buffer.alloc(8)]) }];
    const { out, warnings } = mux([...config, ...frames.slice(0, 20), ...junk, ...frames.slice(20)]);
    t.match(warnings, [/FourCC "xyzw" cannot be packaged/]);
    t.ok(out.get('source')!.fragments.length > 10, 'the stream goes on');
  });

  await t.test('a 10-hour jump, a jump backwards and the 32-bit rollover keep the output timeline continuous', async (t) => {
    const half = frames.findIndex((x) => x.timestamp >= 2000);
    const cases = {
      'ten hours forward': 10 * 3600 * 1000,
      backwards: -1900 - 5000,
      rollover: 2 ** 32 - 2000,
    };
    for (const [name, jump] of Object.entries(cases)) {
      const moved = frames.slice(half).map((x) => ({ ...x, timestamp: (x.timestamp + jump + 2 ** 32) % 2 ** 32 }));
      const { out } = mux([...config, ...frames.slice(0, half), ...moved]);
      const fragments = out.get('source')!.fragments;
      const ends = fragments.map((f) => f.baseMediaDecodeTime + f.duration);
      const starts = fragments.slice(1).map((f) => f.baseMediaDecodeTime);
      t.same(starts, ends.slice(0, -1), `${name}: each fragment starts where the previous ended`);
      const total = ends.at(-1)! / VIDEO_TIMESCALE;
      t.ok(total > 3.9 && total < 4.2, `${name}: 4 s of media stays 4 s (${total.toFixed(3)})`);
    }
  });

  await t.test('a track id that appears mid-stream is skipped, the planned tracks go on', async (t) => {
    const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', seconds: 2, audio: null })));
    const planned = buildTags([{ track: tracks[0]!, trackId: 0 }], { enhanced: true, multitrack: true });
    const stray = buildTags([{ track: tracks[0]!, trackId: 7 }], { enhanced: true, multitrack: true }).filter((x) => x.timestamp >= 1000);
    const { out, warnings } = mux([...planned, ...stray].sort((a, b) => a.timestamp - b.timestamp), [{ name: 'source', videoTrack: 0, audioTrack: null }]);
    t.match(warnings, [/video track 7 is not part of this stream's renditions/]);
    t.equal(out.get('source')!.fragments.reduce((n, f) => n + f.sampleCount, 0), 60, 'every frame of track 0 is packaged');
  });

  await t.test('audio only and video only', async (t) => {
    const audioOnly = mux(tags.filter((x) => x.type === 8), [{ name: 'source', videoTrack: null, audioTrack: 0 }]).out.get('source')!;
    t.equal(audioOnly.inits[0]?.codec, 'mp4a.40.2');
    t.ok(audioOnly.fragments.length >= 19 && audioOnly.fragments.every((f) => f.independent), 'audio parts, each independent');
    const videoOnly = mux(tags.filter((x) => x.type === 9), [{ name: 'source', videoTrack: 0, audioTrack: null }]).out.get('source')!;
    t.match(videoOnly.inits[0]?.codec, /^avc1\.[0-9a-f]{6}$/);
    for (const [name, output] of [['audio', audioOnly], ['video', videoOnly]] as const) {
      const file = path.join(dir, `${name}-only.mp4`);
      await writeFile(file, Buffer.concat(output.bytes));
      t.equal((await probeStreams(file)).length, 1, `${name} only: one stream`);
      t.equal(await decodesCleanly(file), '', `${name} only: decodes`);
      readBack(t, output);
    }
  });
});

t.test('Enhanced RTMP v2 multitrack: each video track becomes its own rendition with the shared audio', async (t) => {
  const dir = await tempDir(t, 'muxer-multitrack');
  const sizes = [[640, 360], [426, 240]] as const;
  const files = await Promise.all(sizes.map(([width, height]) => encodeFragmentedMp4(dir, { codec: 'h264', width, height, seconds: 2, audio: width === 640 ? 'aac' : null })));
  const tracks = (await Promise.all(files.map(async (f) => readMp4Samples(await readFile(f))))).flat();
  const tags = buildTags(tracks.map((track, i) => ({ track, trackId: track.kind === 'audio' ? 0 : i === 0 ? 0 : 1 })), { enhanced: true, multitrack: true });
  const { out, warnings } = mux(tags, [
    { name: 'track0', videoTrack: 0, audioTrack: 0 },
    { name: 'track1', videoTrack: 1, audioTrack: 0 },
  ]);
  t.same(warnings, []);
  for (const [i, name] of ['track0', 'track1'].entries()) {
    const output = out.get(name)!;
    t.match(output.inits[0], { width: sizes[i]![0], height: sizes[i]![1], codec: /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/ }, `${name} at its own size, with the audio`);
    const file = path.join(dir, `${name}.mp4`);
    await writeFile(file, Buffer.concat(output.bytes));
    t.match(await probeStreams(file), [{ codec_name: 'h264', width: sizes[i]![0], nb_read_frames: '60' }, { codec_name: 'aac' }]);
    readBack(t, output);
  }
});
