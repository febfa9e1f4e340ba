// The ladder's ffmpeg reads HEVC and AV1 publishes as live Matroska (mkv-feed.ts): ffprobe must find
// every frame of the publish in it, with its keyframes, and Debian's ffmpeg must decode it cleanly.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { NativeSource } from '../../packager/native-source.ts';
import { createLogger } from '../../src/log.ts';
import { encodeFragmentedMp4, type EncodeSpec } from '../helpers/encoded-media.ts';
import { buildTags } from '../helpers/enhanced-tags.ts';
import { readMp4Samples } from '../helpers/mp4-samples.ts';
import { tempDir } from '../helpers/services.ts';

const run = promisify(execFile);

const cases: Array<{ spec: EncodeSpec; codecs: string }> = [
  { spec: { codec: 'hevc', audio: 'aac', seconds: 4 }, codecs: 'hevc,aac' },
  { spec: { codec: 'av1', audio: 'opus', seconds: 4 }, codecs: 'av1,opus' },
];

for (const { spec, codecs } of cases) {
  t.test(`${codecs}: the ladder's Matroska input holds every frame`, async (t) => {
    const dir = await tempDir(t, `mkv-feed-${spec.codec}`);
    const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, spec)));
    const frames = tracks.find((tr) => tr.kind === 'video')!.samples.length;
    const written: Buffer[] = [];
    const native = new NativeSource({ outputs: [], partTarget: 0.1, log: createLogger('silent'), sink: { onInit() {}, onFragment() {} } });
    native.feedLadder({ videoTrack: 0, audioTrack: 0, format: 'matroska', write: (data) => (written.push(Buffer.from(data)), true) });
    for (const tag of buildTags(tracks.map((track) => ({ track })), { enhanced: true })) native.push(tag);
    const fed = path.join(dir, 'fed.mkv');
    await writeFile(fed, Buffer.concat(written));

    const streams = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', fed]);
    t.same(streams.stdout.trim().split('\n').map((l) => l.split(',')[0]), codecs.split(','), `ffprobe sees ${codecs}`);
    t.match(streams.stdout, /,640,360/, 'at the publish\'s size');
    const video = (await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', fed])).stdout.trim().split('\n');
    t.equal(video.length, frames, `all ${frames} frames`);
    t.equal(video.filter((p) => p.split(',')[1]!.startsWith('K')).length, Math.ceil(spec.seconds / 2), 'a keyframe every 2 s');
    const audio = (await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', fed])).stdout.trim().split('\n');
    const audioFrames = tracks.find((tr) => tr.kind === 'audio')!.samples.length;
    t.ok(audio.length >= audioFrames - 3, `${audio.length} of ${audioFrames} audio frames (none before the first picture)`);
    const decoded = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', fed, '-f', 'null', '-']);
    t.equal(decoded.stderr.trim(), '', 'ffmpeg decodes it without an error');
  });
}
