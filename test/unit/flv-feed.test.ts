// The ladder's ffmpeg reads an H.264 + AAC publish as FLV (flv-feed.ts), built from the parsed
// packets: what it reads must be the publish itself, packet for packet, whether the publisher sent
// legacy FLV or Enhanced RTMP `avc1`. Checked with ffprobe and a decode by Debian's ffmpeg.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { NativeSource, type SourceTag } from '../../packager/native-source.ts';
import { createLogger } from '../../src/log.ts';
import { encodeFragmentedMp4 } from '../helpers/encoded-media.ts';
import { buildTags } from '../helpers/enhanced-tags.ts';
import { readFlvTags } from '../helpers/flv-file.ts';
import { makeFlv } from '../helpers/media.ts';
import { readMp4Samples } from '../helpers/mp4-samples.ts';
import { tempDir } from '../helpers/services.ts';

const run = promisify(execFile);

/** What the ladder's ffmpeg would be given on stdin for these tags. */
function ladderFeed(tags: SourceTag[], withAudio = true): Buffer {
  const written: Buffer[] = [];
  const native = new NativeSource({ outputs: [], partTarget: 0.1, log: createLogger('silent'), sink: { onInit() {}, onFragment() {} } });
  native.feedLadder({ videoTrack: 0, audioTrack: withAudio ? 0 : null, format: 'flv', write: (data) => (written.push(Buffer.from(data)), true) });
  for (const tag of tags) native.push(tag);
  return Buffer.concat(written);
}

async function packets(file: string, stream: 'v' | 'a'): Promise<string[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time,dts_time,size,flags', '-of', 'csv=p=0', file]);
  return stdout.trim().split('\n');
}

async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  return stderr.trim();
}

t.test('an H.264 + AAC publish reaches the ladder as the same packets', async (t) => {
  const dir = await tempDir(t, 'flv-feed');
  const source = await makeFlv(dir, { seconds: 4 });
  const fed = path.join(dir, 'fed.flv');
  await writeFile(fed, ladderFeed(readFlvTags(await readFile(source))));
  t.same(await packets(fed, 'v'), await packets(source, 'v'), 'every video packet: timestamps, size, keyframe flag');
  const [fedAudio, sourceAudio] = [await packets(fed, 'a'), await packets(source, 'a')];
  // Audio from before the first picture is not fed: at most the frames of the first few milliseconds.
  t.ok(fedAudio.length >= sourceAudio.length - 2, `${fedAudio.length} of ${sourceAudio.length} audio packets`);
  t.same(fedAudio, sourceAudio.slice(sourceAudio.length - fedAudio.length), 'and those are the source\'s');
  t.equal(await decodeErrors(fed), '', 'ffmpeg decodes it without an error');
});

t.test('Enhanced RTMP avc1 with B-frames is fed exactly as its legacy FLV twin', async (t) => {
  const dir = await tempDir(t, 'flv-feed-enhanced');
  const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', bframes: 2, seconds: 2 })));
  const legacy = ladderFeed(buildTags(tracks.map((track) => ({ track })), { enhanced: false }));
  const enhanced = ladderFeed(buildTags(tracks.map((track) => ({ track })), { enhanced: true }));
  t.ok(legacy.equals(enhanced), `the same ${legacy.length} bytes`);
  const fed = path.join(dir, 'fed.flv');
  await writeFile(fed, enhanced);
  const video = await packets(fed, 'v');
  t.equal(video.length, 60, 'every frame');
  t.ok(video.some((p) => { const [pts, dts] = p.split(','); return Number(pts) > Number(dts); }), 'composition offsets kept (pts after dts)');
  t.equal(await decodeErrors(fed), '', 'ffmpeg decodes it without an error');
});

t.test('video only, and a consumer that falls behind', async (t) => {
  const dir = await tempDir(t, 'flv-feed-mute');
  const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', seconds: 4, audio: null })));
  const fed = path.join(dir, 'fed.flv');
  // The writer refuses everything from 0.5 s to 1.5 s: the feed skips to the keyframe at 2 s.
  const written: Buffer[] = [];
  let clock = 0;
  const native = new NativeSource({ outputs: [], partTarget: 0.1, log: createLogger('silent'), sink: { onInit() {}, onFragment() {} } });
  native.feedLadder({ videoTrack: 0, audioTrack: null, format: 'flv', write: (data) => (clock < 500 || clock > 1500 ? (written.push(Buffer.from(data)), true) : false) });
  for (const tag of buildTags(tracks.map((track) => ({ track })), { enhanced: false })) {
    clock = tag.timestamp;
    native.push(tag);
  }
  await writeFile(fed, Buffer.concat(written));
  const video = await packets(fed, 'v');
  t.same((await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', fed])).stdout.trim(), 'video', 'one video stream, no audio stream');
  const times = video.map((p) => Number(p.split(',')[1]));
  t.ok(times.every((dts) => dts < 0.5 || dts >= 2), 'nothing between the refusal and the next keyframe');
  t.ok(video.find((p) => Number(p.split(',')[1]) >= 2)!.split(',')[3]!.startsWith('K'), 'the feed resumes on a keyframe');
  t.equal(await decodeErrors(fed), '', 'ffmpeg decodes it without an error');
});

t.test('a publisher that switches from H.264 to HEVC mid-stream: the ladder stops, nothing throws', async (t) => {
  const dir = await tempDir(t, 'flv-feed-switch');
  const h264 = buildTags(readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', seconds: 2, audio: null }))).map((track) => ({ track })), { enhanced: false });
  const hevc = buildTags(readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: 'hevc', seconds: 2, audio: null }))).map((track) => ({ track })), { enhanced: true });
  const warnings: string[] = [];
  const log = createLogger('silent');
  log.warn = ((fields: { problem?: string }) => void warnings.push(fields.problem ?? '')) as typeof log.warn;
  const written: Buffer[] = [];
  const fragments: number[] = [];
  const native = new NativeSource({ outputs: [{ name: 'source', videoTrack: 0, audioTrack: null }], partTarget: 0.1, log, sink: { onInit() {}, onFragment: (_, f) => void fragments.push(f.sampleCount) } });
  native.feedLadder({ videoTrack: 0, audioTrack: null, format: 'flv', write: (data) => (written.push(Buffer.from(data)), true) });
  for (const tag of [...h264, ...hevc.map((x) => ({ ...x, timestamp: x.timestamp + 2000 }))]) native.push(tag);
  t.match(warnings, [/switched to hvc1 mid-stream: the ladder stops/], 'the switch is logged');
  const fed = path.join(dir, 'fed.flv');
  await writeFile(fed, Buffer.concat(written));
  t.equal((await packets(fed, 'v')).length, 60, 'the ladder got the H.264 half and nothing after it');
  t.ok(fragments.reduce((n, c) => n + c, 0) >= 110, 'the source rendition goes on with the HEVC half');
  native.feedLadder({ videoTrack: 0, audioTrack: null, format: 'flv', write: () => t.fail('an FLV ladder is not fed HEVC') as unknown as boolean });
  for (const tag of hevc.map((x) => ({ ...x, timestamp: x.timestamp + 4000 }))) native.push(tag);
  t.match(warnings.at(-1), /no longer H.264 and AAC/, 'a restarted ladder is not fed either');
});
