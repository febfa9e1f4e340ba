// npm run bench:recording — the CPU that recording a live segment costs the server, without the
// RTMP and packaging work around it that makes bench:ingest slow and noisy. Each run writes a real
// fMP4 rendition (ffmpeg-made, about --kbps) into --streams session directories the way the live
// packager does (a temp file renamed into place, then handed over to a recorder in this process;
// one segment per --segment-s per stream, staggered), once with the in-process archiver recording
// them to local storage and PGlite (the embedded defaults) and once without it, and takes this
// process's CPU (every thread) over --seconds after --warmup. Recording's cost per segment is the
// difference divided by the segments written.
// Flags: --runs 3 --streams 25 --seconds 30 --warmup 10 --segment-s 2 --kbps 3000.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openPglite } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { narrow } from '../src/db/narrow.ts';
import { createLogger } from '../src/log.ts';
import type { AppTables } from '../src/main.ts';
import { LocalStorage } from '../src/storage/local-storage.ts';
import { writeFileAtomic } from '../packager/atomic-file.ts';
import { FreshSegments } from '../packager/fresh-segments.ts';
import { Archiver } from '../vod/archiver.ts';
import { VodStore } from '../vod/vod-store.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import { arg, median } from './bench-server.ts';

const runs = arg('runs', 3);
const streams = arg('streams', 25);
const seconds = arg('seconds', 30);
const warmup = arg('warmup', 10);
const segmentS = arg('segment-s', 2);
const kbps = arg('kbps', 3000);
const WINDOW = 6;
const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const work = await mkdtemp(path.join(os.tmpdir(), 'bench-recording-'));
process.on('exit', () => void rm(work, { recursive: true, force: true }));

/** Ten segments of a 720p30 test pattern with AAC, as fMP4 with one fragment per third of a second. */
async function makeMedia(): Promise<{ init: Buffer; segments: Buffer[] }> {
  const dir = path.join(work, 'media');
  await mkdir(dir);
  const args = [
    '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(10 * segmentS), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(30 * segmentS),
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-c:a', 'aac', '-b:a', '128k',
    '-f', 'hls', '-hls_time', String(segmentS), '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
    '-hls_segment_filename', path.join(dir, 's%d.m4s'), '-hls_flags', 'independent_segments', path.join(dir, 'index.m3u8'),
  ];
  await new Promise<void>((resolve, reject) => {
    const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    ff.on('error', reject);
    ff.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
  const names = (await readdir(dir)).filter((n) => /^s\d+\.m4s$/.test(n)).sort((a, b) => Number(a.slice(1, -4)) - Number(b.slice(1, -4)));
  return { init: await readFile(path.join(dir, 'init.mp4')), segments: await Promise.all(names.map((n) => readFile(path.join(dir, n)))) };
}

const media = await makeMedia();
const meanKb = media.segments.reduce((s, b) => s + b.length, 0) / media.segments.length / 1024;
const database = await openPglite<AppTables>(path.join(work, 'data'));
await migrate(database, log);
const db = database.db;
const renditions = JSON.stringify([{ name: 'source', width: 1280, height: 720, bandwidth: kbps * 1000, codecs: 'avc1.64001f,mp4a.40.2' }]);

/** Writes segments into `streams` new session directories for warmup + seconds; returns the CPU (s) and segments of the measured window. */
async function run(mediaDir: string, recorded: boolean): Promise<{ cpuS: number; segments: number }> {
  const dirs: string[] = [];
  for (let i = 0; i < streams; i++) {
    const slug = `b${recorded ? 'r' : 'w'}${Date.now().toString(36)}${i}`;
    const user = await db.insertInto('users').values({ username: slug, email: `${slug}@example.test`, password_hash: 'x' }).returning('id').executeTakeFirstOrThrow();
    const channel = await db.insertInto('channels').values({ owner_id: user.id, slug, title: slug, stream_key_hash: slug, stream_key_ciphertext: 'c' }).returning('id').executeTakeFirstOrThrow();
    const session = await db.insertInto('live_sessions').values({ channel_id: channel.id, started_at: new Date(), renditions }).returning('id').executeTakeFirstOrThrow();
    const dir = path.join(mediaDir, 'live', session.id, 'source');
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, 'init-0.mp4'), media.init);
    dirs.push(dir);
  }
  // As main.ts: the packager hands its segments over only when this process records.
  const fresh = recorded ? new FreshSegments() : undefined;
  const archiver = recorded
    ? new Archiver({ mediaDir, store: new VodStore(narrow(db).to<VodDb>()), nodeId: 'bench', nodeLostFinalizeMs: 60_000, storage: new LocalStorage({ root: path.join(mediaDir, 'storage') }), log, ffmpegPath: 'ffmpeg', windowSegments: WINDOW, fresh })
    : null;
  await archiver?.start();
  const tickMs = (segmentS * 1000) / streams;
  const startedAt = Date.now();
  let written = 0;
  let measuredFrom: { cpu: NodeJS.CpuUsage; written: number } | null = null;
  for (let tick = 0; ; tick++) {
    const due = startedAt + tick * tickMs;
    if (due > startedAt + (warmup + seconds) * 1000) break;
    await sleep(Math.max(0, due - Date.now()));
    if (!measuredFrom && Date.now() - startedAt >= warmup * 1000) measuredFrom = { cpu: process.cpuUsage(), written };
    const stream = tick % streams;
    const msn = Math.floor(tick / streams);
    const dir = dirs[stream]!;
    const segment = media.segments[msn % media.segments.length]!;
    const file = path.join(dir, `seg-${msn}.m4s`);
    await writeFileAtomic(file, segment);
    fresh?.add(file, [segment]);
    written += 1;
    // Without the archiver nothing prunes the live directory: keep the same window on disk.
    if (!recorded && msn >= WINDOW + 3) await rm(path.join(dir, `seg-${msn - WINDOW - 3}.m4s`), { force: true });
  }
  const cpu = process.cpuUsage(measuredFrom!.cpu);
  await archiver?.close();
  return { cpuS: (cpu.user + cpu.system) / 1e6, segments: written - measuredFrom!.written };
}

console.log(`recording bench: ${runs} runs, ${streams} streams, a ${segmentS} s segment each (mean ${meanKb.toFixed(0)} KiB) per stream, ${warmup} s warm-up + ${seconds} s measured, PGlite + local storage`);
const perSegment: number[] = [];
const withCores: number[] = [];
const withoutCores: number[] = [];
for (let i = 1; i <= runs; i++) {
  const without = await run(path.join(work, `plain-${i}`), false);
  const recorded = await run(path.join(work, `recorded-${i}`), true);
  const ms = ((recorded.cpuS / recorded.segments - without.cpuS / without.segments) * 1000);
  perSegment.push(ms);
  withCores.push(recorded.cpuS / seconds);
  withoutCores.push(without.cpuS / seconds);
  console.log(`run ${i}: writing only ${(without.cpuS / seconds).toFixed(3)} cores, recorded ${(recorded.cpuS / seconds).toFixed(3)} cores (${recorded.segments} segments): recording ${ms.toFixed(2)} ms CPU per segment`);
  await rm(path.join(work, `plain-${i}`), { recursive: true, force: true });
  await rm(path.join(work, `recorded-${i}`), { recursive: true, force: true });
}
console.log(`median: writing only ${median(withoutCores).toFixed(3)} cores, recorded ${median(withCores).toFixed(3)} cores; recording costs ${median(perSegment).toFixed(2)} ms CPU per segment`);
await database.close();
