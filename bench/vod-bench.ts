// npm run bench:vod — how far recording trails the live stream, and how soon a VOD plays after the
// streamer stops. Each run publishes a test pattern over RTMP to a server whose archiver uploads to
// s3rver, stops the publisher cleanly after --seconds (SIGINT: ffmpeg flushes and unpublishes, as
// OBS's "Stop streaming" does) and waits for the vods row to turn 'ready'. Figures: stop → ready
// (what a streamer sees), stop → session ended and session ended ('stream.ended') → ready (the
// archiver's own part), and upload lag (a segment's mtime to its upload being confirmed).
// Flags: --runs 3 --seconds 20 --size 640x360 --kbps 0 (0: x264's default rate) --ladder 240:400.
// A long stream cheaply: --seconds 600 --size 320x180 --kbps 300 --ladder 144:150.
import { spawn } from 'node:child_process';
import { narrow } from '../src/db/narrow.ts';
import { VodStore } from '../vod/vod-store.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import { startS3Server } from '../test/helpers/s3-server.ts';
import { arg, median, newChannel, percentile, startBenchServer } from './bench-server.ts';

function textArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const runs = arg('runs', 3);
const seconds = arg('seconds', 20);
const size = textArg('size', '640x360');
const kbps = arg('kbps', 0);
const ladder = textArg('ladder', '240:400');
const cleanups: Array<() => unknown> = [];
const s3 = await startS3Server({ teardown: (fn) => cleanups.push(fn) });
const { server, stop } = await startBenchServer({
  LADDER: ladder,
  // The default grace window: a clean stop must end the session without waiting it out.
  S3_BUCKET: s3.bucket,
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: s3.accessKeyId,
  S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  S3_FORCE_PATH_STYLE: 'true',
});
// The server archives in-process (ARCHIVER's default), as deployed.
const store = new VodStore(narrow(server.database.db).to<VodDb>());
const endedAt = new Map<string, number>();
await server.bus.subscribe('stream.ended', (m) => endedAt.set((m as { sessionId: string }).sessionId, Date.now()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const allLags: number[] = [];
const fromStop: number[] = [];
const fromEnd: number[] = [];
const stopToEnd: number[] = [];
const rtmp = await newChannel(server, 'vodbench');
console.log(`vod bench: ${runs} runs of ${seconds} s at ${size}${kbps ? ` ${kbps} kb/s` : ''}, ladder ${ladder || 'none'} + source, storage s3rver, database ${server.database.kind}`);
for (let i = 1; i <= runs; i++) {
  const runStart = new Date();
  const rate = kbps ? ['-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${2 * kbps}k`] : [];
  const publisher = spawn('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', ...rate,
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', rtmp,
  ], { stdio: 'ignore' });
  const exited = new Promise((resolve) => publisher.on('exit', resolve));
  // The stream's length is the point of the run, so here a fixed wait is the measurement's input.
  await sleep(seconds * 1000);
  if (publisher.exitCode !== null) throw new Error(`run ${i}: the publisher exited early (${publisher.exitCode})`);
  const stoppedAt = Date.now();
  publisher.kill('SIGINT');
  await exited;
  // Polled every 10 ms: the figure is at most that much late.
  let vod = null;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(10)) {
    vod = await server.database.db.selectFrom('vods').selectAll().where('created_at', '>=', runStart).executeTakeFirst();
    if (vod?.status === 'ready' || vod?.status === 'failed') break;
  }
  if (!vod || vod.status !== 'ready') throw new Error(`run ${i}: no ready VOD within 120 s of the stop`);
  const readyAt = Date.now();
  const rows = (await store.allJournaled(vod.id)).filter((r) => r.kind === 'segment' && r.uploaded_at);
  const lags = rows.map((r) => r.uploaded_at!.getTime() - r.file_ready_at.getTime());
  allLags.push(...lags);
  const ended = endedAt.get(vod.live_session_id!)!;
  fromStop.push(readyAt - stoppedAt);
  fromEnd.push(readyAt - ended);
  stopToEnd.push(ended - stoppedAt);
  console.log(
    `run ${i}: ${rows.length} segments, duration ${vod.duration_s.toFixed(2)} s, upload lag p50 ${percentile(lags, 50)} ms p95 ${percentile(lags, 95)} ms; ` +
      `stop → VOD ready ${readyAt - stoppedAt} ms (stop → session end ${ended - stoppedAt} ms, session end → ready ${readyAt - ended} ms)`,
  );
}
console.log(`overall: upload lag p50 ${percentile(allLags, 50)} ms, p95 ${percentile(allLags, 95)} ms (${allLags.length} segments)`);
console.log(
  `stop → ready median ${median(fromStop)} ms (max ${Math.max(...fromStop)}); stop → session end median ${median(stopToEnd)} ms; ` +
    `session end → ready median ${median(fromEnd)} ms (max ${Math.max(...fromEnd)})`,
);
await stop();
for (const fn of cleanups.reverse()) await fn();
