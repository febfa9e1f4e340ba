// npm run bench:upload — what uploads cost against doing the same by hand, in the same run.
// 1. Upload throughput: a file sent with tus (tus-js-client → Spillway → @tus/s3-store → s3rver)
//    against a plain @aws-sdk/lib-storage upload of the same file to the same s3rver. Target: tus
//    at least 0.8 × the plain upload. (No worker runs here: the queued job waits, costing nothing.)
// 2. Transcoding: a 60 s 1080p upload from the end of its upload to 'ready' (fetch, probe, the
//    ladder, loudnorm, tiles, storing, poster and sprite) against the very ffmpeg command the job
//    runs, by hand. Target: within 1.05 ×.
// Flags: --runs 3 --mb 200 --seconds 60 (the transcoded file's length); --only upload|transcode.
// Figures are medians; the machine's load is printed beside them.
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import * as tus from 'tus-js-client';
import { startS3Server } from '../test/helpers/s3-server.ts';
import { displaySize, parseProbe } from '../vod/media-probe.ts';
import { buildTranscodeArgs, TILE_DIR } from '../vod/transcode-args.ts';
import { arg, median, startBenchServer } from './bench-server.ts';

const run = promisify(execFile);
const runs = arg('runs', 3);
const mb = arg('mb', 200);
const seconds = arg('seconds', 60);
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const LADDER = '720:2800,480:1400,360:800';
const cleanups: Array<() => unknown> = [];
const work = await mkdtemp(path.join(os.tmpdir(), 'spillway-upload-bench-'));
cleanups.push(() => rm(work, { recursive: true, force: true }));
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const fmt = (n: number) => n.toFixed(1);

async function register(base: string, username: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, email: `${username}@bench.test`, password: 'benchmark password' }) });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

function tusUpload(base: string, token: string, file: Buffer, name: string, chunkSize = Infinity): Promise<{ vodId: string; ms: number }> {
  return new Promise((resolve, reject) => {
    let vodId = '';
    const started = performance.now();
    const upload = new tus.Upload(file, {
      endpoint: `${base}/api/v1/uploads`,
      chunkSize,
      headers: { authorization: `Bearer ${token}` },
      metadata: { filename: name },
      storeFingerprintForResuming: false,
      onAfterResponse: (_req, res) => void (vodId = res.getHeader('Spillway-Vod-Id') ?? vodId),
      onError: reject,
      onSuccess: () => resolve({ vodId, ms: performance.now() - started }),
    });
    upload.start();
  });
}

async function uploadBench(): Promise<void> {
  const s3 = await startS3Server({ teardown: (fn) => cleanups.push(fn) });
  const { server, base, stop } = await startBenchServer({
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    WORKER: 'external',
    UPLOADS_PER_USER: '100',
  });
  cleanups.push(stop);
  const token = await register(base, 'uploadbench');
  const file = path.join(work, 'random.bin');
  await writeFile(file, randomBytes(mb * 1024 * 1024));
  const body = await readFile(file);
  // Plain part bodies, as the tus store sends them (see vod/upload-tus.ts): the same bytes on the wire.
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const tusRates: number[] = [];
  const plainRates: number[] = [];
  console.log(`upload bench: ${runs} runs of ${mb} MiB to s3rver on 127.0.0.1 (load ${load()})`);
  for (let i = 1; i <= runs; i++) {
    // Alternate which goes first, so neither always meets a warmer (or fuller) disk.
    const order = i % 2 ? ['tus', 'plain'] : ['plain', 'tus'];
    for (const which of order) {
      if (which === 'tus') {
        const { ms } = await tusUpload(base, token, body, `random-${i}.bin`);
        tusRates.push(mb / (ms / 1000));
      } else {
        const started = performance.now();
        // lib-storage's defaults: 5 MiB parts, 4 at once; the stream is read from disk like a browser's file.
        await new S3Upload({ client, params: { Bucket: s3.bucket, Key: `plain/random-${i}.bin`, Body: createReadStream(file) } }).done();
        plainRates.push(mb / ((performance.now() - started) / 1000));
      }
    }
    console.log(`  run ${i}: tus ${fmt(tusRates.at(-1)!)} MiB/s, lib-storage ${fmt(plainRates.at(-1)!)} MiB/s (load ${load()})`);
  }
  console.log(`upload: median tus ${fmt(median(tusRates))} MiB/s vs lib-storage ${fmt(median(plainRates))} MiB/s = ${(median(tusRates) / median(plainRates)).toFixed(2)} × (target ≥ 0.8)`);
  client.destroy();
  void server;
}

async function transcodeBench(): Promise<void> {
  const source = path.join(work, `source-${seconds}s-1080p.mp4`);
  await run('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '4M', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
  ]);
  const { server, base, stop } = await startBenchServer({ LADDER, X264_PRESET: 'veryfast', UPLOADS_PER_USER: '100' });
  cleanups.push(stop);
  const token = await register(base, 'transcodebench');
  const body = await readFile(source);
  const viaJob: number[] = [];
  const byHand: number[] = [];
  console.log(`transcode bench: ${runs} runs of a ${seconds} s 1080p file (${fmt((await stat(source)).size / 1024 / 1024)} MiB), ladder 1080p + ${LADDER}, veryfast (load ${load()})`);
  const probed = parseProbe((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name,duration:stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,channels', '-of', 'json', source])).stdout);
  for (let i = 1; i <= runs; i++) {
    const { vodId } = await tusUpload(base, token, body, `bench-${i}.mp4`);
    const uploaded = performance.now();
    for (;;) {
      const vod = (await (await fetch(`${base}/api/v1/vods/${vodId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string; failureReason: string | null };
      if (vod.status === 'ready') break;
      if (vod.status === 'failed') throw new Error(`transcoding failed: ${vod.failureReason}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    viaJob.push((performance.now() - uploaded) / 1000);

    const outDir = path.join(work, `hand-${i}`);
    const { args, renditions } = buildTranscodeArgs({ input: source, outDir, source: { ...displaySize(probed.video!), fps: probed.video!.fps }, hasAudio: true, ladder: server.config.live.ladder, preset: 'veryfast' });
    await Promise.all([...renditions.map((r) => mkdir(path.dirname(r.playlist), { recursive: true })), mkdir(path.join(outDir, TILE_DIR), { recursive: true })]);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
    });
    byHand.push((performance.now() - started) / 1000);
    await rm(outDir, { recursive: true, force: true });
    console.log(`  run ${i}: job ${fmt(viaJob.at(-1)!)} s, ffmpeg by hand ${fmt(byHand.at(-1)!)} s (load ${load()})`);
  }
  console.log(`transcode: median job ${fmt(median(viaJob))} s vs ffmpeg by hand ${fmt(median(byHand))} s = ${(median(viaJob) / median(byHand)).toFixed(2)} × (target ≤ 1.05); ${fmt(seconds / median(viaJob))}× real time`);
}

try {
  if (only !== 'transcode') await uploadBench();
  if (only !== 'upload') await transcodeBench();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
