// npm run bench:live-edge — where the server's share of the latency goes, without a browser: an
// H.264/AAC stream's messages are handed to a live session at real-time pace (as the ingest hands
// a publish over), and for every part of every rendition the bench records how long after the
// part's last media instant it was listed in the playlist (the earliest a player can fetch it).
// The source rendition is muxed natively; the rungs come from the ladder's ffmpeg on a pipe.
// A frame's wait for its part to close (up to one part duration) comes on top, then the player's
// PART-HOLD-BACK. Flags: --seconds 30 --runs 3 --part-ms 200
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildFfmpegArgs } from '../packager/ffmpeg-args.ts';
import { LiveSession } from '../packager/live-session.ts';
import { partHoldBack } from '../packager/ll-hls-playlist.ts';
import { createLogger } from '../src/log.ts';
import { playFlvTags } from '../test/helpers/flv-file.ts';
import { arg, median, percentile } from './bench-server.ts';

const run = promisify(execFile);
const seconds = arg('seconds', 30);
const runs = arg('runs', 3);
const partSeconds = arg('part-ms', 200) / 1000;

const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-live-edge-'));
const source = path.join(dir, 'source.flv');
await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds + 2), '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-b:v', '2500k', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', source]);
const flv = await readFile(source);
const ladder = [{ name: '480p', height: 480, videoBitrateKbps: 1400, audioBitrateKbps: 96 }, { name: '360p', height: 360, videoBitrateKbps: 800, audioBitrateKbps: 96 }];

async function once(r: number): Promise<Map<string, number[]>> {
  const args = () => buildFfmpegArgs({ inputUrl: 'pipe:0', inputIsH264Aac: false, nativeSource: { inputFormat: 'flv' }, source: { width: 1280, height: 720, fps: 30 }, ladder, partSeconds });
  const session = new LiveSession({
    id: `00000000-0000-4000-8000-00000000000${r}`,
    channelId: 'bench',
    slug: 'bench',
    mediaDir: dir,
    ffmpegPath: 'ffmpeg',
    buildRun: args,
    native: [{ name: 'source', videoTrack: 0, audioTrack: 0 }],
    ladderInput: { videoTrack: 0, audioTrack: 0, format: 'flv' },
    renditions: [{ name: 'source', width: 1280, height: 720, frameRate: 30, bandwidth: 2_800_000, passthrough: true }, ...args().outputs.map((o) => ({ name: o.name, width: o.width, height: o.height, frameRate: 30, bandwidth: 1_000_000, passthrough: false }))],
    partTarget: partSeconds,
    segmentTarget: 1,
    windowSegments: 60,
    maxRestarts: 3,
    log: createLogger('silent'),
  });
  const tags = playFlvTags(flv);
  let startedAt = 0;
  const delays = new Map<string, number[]>();
  for (const name of ['source', ...ladder.map((l) => l.name)]) {
    const packager = session.packagerForTests(name)!;
    const mediaEnd = { value: 0, parts: 0 };
    delays.set(name, []);
    packager.on('update', () => {
      const parts = packager.state.segments.reduce((n, s) => n + s.parts.length, 0) + packager.state.pendingParts.length;
      const all = [...packager.state.segments.flatMap((s) => s.parts), ...packager.state.pendingParts];
      while (mediaEnd.parts < parts) {
        mediaEnd.value += all[mediaEnd.parts]?.duration ?? 0;
        mediaEnd.parts += 1;
      }
      // the stream's media starts at the first keyframe, which the player sends at startedAt + its timestamp (~0)
      if (startedAt > 0 && mediaEnd.value > 3) delays.get(name)!.push((Date.now() - startedAt) / 1000 - mediaEnd.value);
    });
  }
  session.attach({
    subscribe: (listener, onEnd) => {
      startedAt = Date.now();
      return tags.subscribe(listener, onEnd);
    },
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await session.end('server-shutdown');
  return delays;
}

console.log(`server-side delay from a part's last media instant to the part being listed, ${runs} runs × ${seconds} s, PART-TARGET ${partSeconds} s; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const all = new Map<string, number[][]>();
for (let r = 1; r <= runs; r++) {
  const delays = await once(r);
  for (const [name, d] of delays) {
    all.set(name, [...(all.get(name) ?? []), d]);
    console.log(`  run ${r} ${name}: p50 ${(median(d) * 1000).toFixed(0)} ms, p95 ${(percentile(d, 95) * 1000).toFixed(0)} ms (${d.length} parts)`);
  }
}
for (const [name, rs] of all) {
  console.log(`${name}: median of runs p50 ${(median(rs.map((d) => median(d))) * 1000).toFixed(0)} ms, p95 ${(median(rs.map((d) => percentile(d, 95))) * 1000).toFixed(0)} ms`);
}
console.log(`then: a frame waits on average half a part (${(partSeconds * 500).toFixed(0)} ms) for its part to close; hls.js in low-latency mode holds PART-HOLD-BACK (${partHoldBack(partSeconds)} s) behind the live edge; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await rm(dir, { recursive: true, force: true });
