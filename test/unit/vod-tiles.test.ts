// Seek-preview tiles: each segment's tile shows that segment's first picture, whether the segments
// share an init section (one ffmpeg stream of their keyframes) or not (one input each); the live
// tile maker batches them and skips what stops being a cue point as the recording grows.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../../src/log.ts';
import { until } from '../helpers/media.ts';
import { TileMaker } from '../../vod/tile-maker.ts';
import { readBoxes } from '../../packager/fmp4-boxes.ts';
import { execFfmpeg } from '../../packager/ffmpeg-exec.ts';
import { makeTiles, startsTile, TILE, tileInput, tileStep } from '../../vod/vod-thumbnails.ts';

const run = promisify(execFile);
const COLORS = { red: [255, 0, 0], lime: [0, 255, 0], blue: [0, 0, 255], white: [255, 255, 255] } as const;
type Color = keyof typeof COLORS;

/** A fragmented MP4 of one second per colour, a keyframe (and a fragment) per second: init + fragments. */
async function encode(colors: Color[], extra: string[] = []): Promise<{ init: Buffer; fragments: Buffer[] }> {
  const inputs = colors.flatMap((c) => ['-f', 'lavfi', '-i', `color=c=${c}:s=320x180:r=10:d=1`]);
  const concat = `${colors.map((_, i) => `[${i}:v]`).join('')}concat=n=${colors.length}:v=1:a=0[v]`;
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...inputs, '-filter_complex', concat, '-map', '[v]', '-c:v', 'libx264', '-g', '10', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', ...extra, '-f', 'mp4', 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  const boxes = readBoxes(stdout);
  const firstMoof = boxes.findIndex((b) => b.type === 'moof');
  const fragments: Buffer[] = [];
  for (let i = firstMoof; i + 1 < boxes.length; i += 2) fragments.push(stdout.subarray(boxes[i]!.start, boxes[i + 1]!.start + boxes[i + 1]!.size));
  return { init: stdout.subarray(0, boxes[firstMoof]!.start), fragments };
}

/** The colour a JPEG tile mostly shows. */
async function colorOf(jpeg: Buffer): Promise<Color> {
  const rgb = await execFfmpeg('ffmpeg', ['-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], jpeg);
  const distance = (c: Color) => COLORS[c].reduce((sum: number, v, i) => sum + Math.abs(v - rgb[i]!), 0);
  return (Object.keys(COLORS) as Color[]).sort((a, b) => distance(a) - distance(b))[0]!;
}

async function isTile(jpeg: Buffer): Promise<boolean> {
  const size = await execFfmpeg('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', '-i', 'pipe:0'], jpeg).catch(() => Buffer.from(''));
  return String(size).trim() === `${TILE.width},${TILE.height}`;
}

t.test('segments sharing an init section: one tile per segment, in order', async (t) => {
  const colors: Color[] = ['red', 'lime', 'blue', 'white', 'red'];
  const { init, fragments } = await encode(colors);
  t.equal(fragments.length, colors.length, 'one fragment per second');
  // A segment of two fragments: its tile is its first picture, not its second.
  const media = [Buffer.concat([init, fragments[0]!, fragments[1]!]), ...fragments.slice(2).map((f) => Buffer.concat([init, f]))];
  const tiles = await makeTiles('ffmpeg', media);
  t.equal(tiles.length, media.length);
  t.same(await Promise.all(tiles.map(colorOf)), ['red', 'blue', 'white', 'red']);
  t.ok(await isTile(tiles[0]!), `a tile is ${TILE.width}×${TILE.height}`);

  // What the live tile maker queues: the init section and the first fragment only.
  const queued = tileInput(init, Buffer.concat([fragments[0]!, fragments[1]!]));
  t.equal(queued.length, init.length + fragments[0]!.length, 'a queued tile keeps its first fragment, not the whole segment');
  t.same(await Promise.all((await makeTiles('ffmpeg', [queued, tileInput(init, fragments[2]!)])).map(colorOf)), ['red', 'blue']);
  t.equal(tileInput(init, Buffer.from('not boxes')).length, init.length + 9, 'a segment it cannot walk is kept whole');
});

t.test('segments from different init sections (a restarted encoder) still get their own tiles', async (t) => {
  const a = await encode(['lime', 'red']);
  const b = await encode(['blue']);
  const media = [Buffer.concat([a.init, a.fragments[0]!]), Buffer.concat([a.init, a.fragments[1]!]), Buffer.concat([b.init, b.fragments[0]!])];
  t.same(await Promise.all((await makeTiles('ffmpeg', media)).map(colorOf)), ['lime', 'red', 'blue']);
});

t.test('a segment without a keyframe neither fails the batch nor shifts the tiles after it', async (t) => {
  // Half-second fragments of one-second GOPs: every other fragment has no keyframe.
  const { init, fragments } = await encode(['red', 'lime', 'blue'], ['-frag_duration', '500000']);
  t.equal(fragments.length, 6);
  const media = [fragments[0]!, fragments[3]!, fragments[4]!].map((f) => Buffer.concat([init, f]));
  const tiles = await makeTiles('ffmpeg', media);
  t.equal(tiles.length, 3);
  t.equal(await colorOf(tiles[0]!), 'red');
  t.equal(await colorOf(tiles[1]!), 'red', 'the segment without a picture of its own shows the one before it');
  t.equal(await colorOf(tiles[2]!), 'blue', 'the segment after it still gets its own picture');
});

t.test('a live recording makes the tiles any final length needs, and fewer as it grows', async (t) => {
  // An hour of 2 s segments (and a 2.5 s segment length, which does not divide the grid), recorded
  // live: the tile maker sees each segment once, with the length recorded so far.
  for (const segmentS of [2, 2.5]) {
    const segments = Array.from({ length: Math.floor(3600 / segmentS) }, (_, i) => ({ start: i * segmentS, duration: segmentS }));
    const made = new Set(segments.filter((s) => startsTile(s.start, s.duration)).map((s) => s.start));
    for (const total of [60, 199, 200, 201, 450, 1000, 3599, 3600]) {
      const step = tileStep(total);
      const cues = Math.ceil(total / step);
      t.ok(cues <= 100, `${total} s: ${cues} cues of ${step} s`);
      const missing: number[] = [];
      for (let from = 0; from < total; from += step) {
        const segment = segments.findLast((s) => s.start <= from + 1e-6)!;
        if (!made.has(segment.start)) missing.push(from);
      }
      t.same(missing, [], `${segmentS} s segments, ended at ${total} s: every cue's tile was made live`);
    }
    t.ok(made.size < 400, `${made.size} tiles made for an hour, not ${Math.round(3600 / 2)}`);
  }
});

t.test('the live tile maker waits for a batch, keeps the queue on disk, and never makes a tile no cue needs', async (t) => {
  const palette: Color[] = ['red', 'lime', 'blue', 'white'];
  const { init, fragments } = await encode(palette);
  const dir = t.testdir();
  const maker = new TileMaker({ ffmpegPath: 'ffmpeg', dir, log: createLogger('silent'), batch: 4 });
  t.teardown(() => maker.close());
  const jpegs = async () => (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  // 2 s segments: below 200 s every one starts a cue, so each is queued.
  const add = (msn: number) => maker.add({ msn, start: msn * 2, duration: 2, init, segment: fragments[msn % 4]! });
  for (const msn of [0, 1, 2]) add(msn);
  // The queued media waits in a spool file, each queued init section and first fragment.
  const expected = 3 * init.length + fragments[0]!.length + fragments[1]!.length + fragments[2]!.length;
  const spoolBytes = async () => (await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.spool')).map((f) => readFile(path.join(dir, f))))).map((b) => b.length);
  await until(async () => (await spoolBytes())[0] === expected, 'the queued tiles in the spool').catch(() => {});
  t.same(await spoolBytes(), [expected], 'one spool file holds the three queued tiles');
  t.same(await jpegs(), [], 'no tile (no ffmpeg run) before a batch is full');
  add(3);
  await maker.flush();
  t.same(await jpegs(), ['seg-0.jpg', 'seg-1.jpg', 'seg-2.jpg', 'seg-3.jpg'], 'the fourth segment fills the batch');
  t.same(await Promise.all((await jpegs()).map(async (f) => colorOf(await readFile(path.join(dir, f))))), palette, 'each tile shows its own segment');

  // Near 200 s the step between cues doubles to 4 s: queued segments off that grid are dropped.
  for (const msn of [97, 98, 99]) add(msn); // 194, 196, 198 s
  add(100); // 200–202 s: the recording is now long enough for 4 s cues
  await maker.flush();
  t.same((await jpegs()).filter((f) => !/^seg-[0-3]\.jpg$/.test(f)), ['seg-100.jpg', 'seg-98.jpg'], 'only the segments at 196 s and 200 s get tiles');
  t.same((await readdir(dir)).filter((f) => f.endsWith('.spool')), [], 'no spool file is left once the queue is made');
});
