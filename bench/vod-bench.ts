// npm run bench:vod — how far recording trails the live stream, and how soon a VOD plays after the
// stream ends. Each run publishes a test pattern over RTMP (LADDER 240:400) to a server whose
// archiver uploads to s3rver, then reads the upload journal: upload lag is a segment file's mtime
// (complete on disk) to its upload being confirmed; end-to-VOD is the 'stream.ended' bus event to
// the vods row turning 'ready'. Flags: --runs 3 --seconds 20.
import { spawn } from 'node:child_process';
import { VodStore } from '../packager/vod-store.ts';
import { startS3Server } from '../test/helpers/s3-server.ts';
import { arg, median, newChannel, percentile, startBenchServer } from './bench-server.ts';

const runs = arg('runs', 3);
const seconds = arg('seconds', 20);
const cleanups: Array<() => unknown> = [];
const s3 = await startS3Server({ teardown: (fn) => cleanups.push(fn) });
const { server, stop } = await startBenchServer({
  LADDER: '240:400',
  LIVE_GRACE_S: '0',
  S3_BUCKET: s3.bucket,
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: s3.accessKeyId,
  S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  S3_FORCE_PATH_STYLE: 'true',
});
// The server archives in-process (ARCHIVER's default), as deployed.
const store = new VodStore(server.database.db);
const endedAt = new Map<string, number>();
await server.bus.subscribe('stream.ended', (m) => endedAt.set((m as { sessionId: string }).sessionId, Date.now()));

const allLags: number[] = [];
const readyTimes: number[] = [];
const rtmp = await newChannel(server, 'vodbench');
console.log(`vod bench: ${runs} runs of ${seconds} s, renditions source + 240p, storage s3rver, database ${server.database.kind}`);
for (let i = 1; i <= runs; i++) {
  const runStart = new Date();
  const publisher = spawn('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', rtmp,
  ], { stdio: 'ignore' });
  await new Promise((resolve) => publisher.on('exit', resolve));
  // Polled every 10 ms: the figure is at most that much late.
  let vod = null;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    vod = await server.database.db.selectFrom('vods').selectAll().where('created_at', '>=', runStart).executeTakeFirst();
    if (vod?.status === 'ready' || vod?.status === 'failed') break;
  }
  if (!vod || vod.status !== 'ready') throw new Error(`run ${i}: no ready VOD within 60 s`);
  const readyAt = Date.now();
  const rows = (await store.allJournaled(vod.id)).filter((r) => r.kind === 'segment' && r.uploaded_at);
  const lags = rows.map((r) => r.uploaded_at!.getTime() - r.file_ready_at.getTime());
  allLags.push(...lags);
  const toReady = readyAt - endedAt.get(vod.live_session_id)!;
  readyTimes.push(toReady);
  console.log(`run ${i}: ${rows.length} segments, duration ${vod.duration_s.toFixed(2)} s, upload lag p50 ${percentile(lags, 50)} ms p95 ${percentile(lags, 95)} ms, end of stream → VOD ready ${toReady} ms`);
}
console.log(`overall: upload lag p50 ${percentile(allLags, 50)} ms, p95 ${percentile(allLags, 95)} ms (${allLags.length} segments); end → ready median ${median(readyTimes)} ms, max ${Math.max(...readyTimes)} ms`);
await stop();
for (const fn of cleanups.reverse()) await fn();
