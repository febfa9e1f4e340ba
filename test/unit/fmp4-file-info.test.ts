// The recorder journals each segment's duration with segmentDuration(), which parses only its first
// and last fragments: checked here against every fragment's duration summed by the fMP4 reader and
// against ffprobe, on what ffmpeg writes for a ladder rung (100 ms fragments, video and audio).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { Fmp4Reader, readBoxes } from '../../packager/fmp4-reader.ts';
import { segmentDuration } from '../../vod/fmp4-file-info.ts';

const run = promisify(execFile);

t.test('a segment of many fragments: its duration from the first and last', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'rung.mp4');
  await run('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-c:a', 'aac',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '100000', file,
  ], { timeout: 60_000 });
  const data = await readFile(file);
  const firstMoof = readBoxes(data).find((b) => b.type === 'moof')!;
  const init = data.subarray(0, firstMoof.start);
  const segment = data.subarray(firstMoof.start);

  const reader = new Fmp4Reader();
  const [head] = reader.push(init);
  const fragments = reader.push(segment).filter((e) => e.type === 'fragment');
  t.ok(fragments.length >= 15, `ffmpeg wrote ${fragments.length} fragments`);
  const summed = fragments.reduce((n, f) => n + f.duration, 0) / (head as { timescale: number }).timescale;

  const duration = segmentDuration(init, segment);
  t.equal(duration, summed, 'the same as every fragment summed');
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets,r_frame_rate', '-of', 'csv=p=0', file]);
  const [rate, frames] = stdout.trim().split(',');
  const [num, den] = rate!.split('/').map(Number);
  t.equal(duration, Number(frames) / (num! / den!), `ffprobe counts ${frames} frames at ${rate}`);

  // As the live packager hands a segment over: its parts, whole fragments, one buffer each.
  const boxes = readBoxes(segment);
  const parts = boxes.flatMap((box, i) => (box.type === 'moof' ? [segment.subarray(box.start, boxes[i + 1]!.start + boxes[i + 1]!.size)] : []));
  t.equal(parts.length, fragments.length, 'one part per fragment');
  t.equal(segmentDuration(init, parts), duration, 'the same from the parts as from the file');
  t.equal(segmentDuration(init, parts.slice(0, 5)), fragments.slice(0, 5).reduce((n, f) => n + f.duration, 0) / (head as { timescale: number }).timescale, 'and from the first five parts, their five fragments');

  t.equal(segmentDuration(init, Buffer.alloc(0)), 0, 'an empty file has no media');
});
