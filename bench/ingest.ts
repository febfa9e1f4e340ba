// npm run bench:ingest — CPU and memory of the server (Node process, ingest worker, packager
// ffmpegs) per concurrent passthrough stream, at 1, 10 and 50 streams. Publishers loop a
// pre-encoded 720p H.264/AAC file with -c copy, so the load generator costs little; their CPU is
// not counted. Flags: --counts 1,10,50 --seconds 20 (measurement window per step) --not-recorded.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { arg, newChannel, startBenchServer } from './bench-server.ts';
import { cpuBetween, cpuByPid, treeStats } from './proc-stats.ts';

const run = promisify(execFile);
const countsArg = process.argv.indexOf('--counts');
const counts = countsArg >= 0 ? process.argv[countsArg + 1]!.split(',').map(Number) : [1, 10, 50];
const seconds = arg('seconds', 20);
// --not-recorded: ARCHIVER=external with no archiver running, the baseline for recording's cost.
const notRecorded = process.argv.includes('--not-recorded');

const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-bench-ingest-'));
const source = path.join(dir, 'source.flv');
await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-b:v', '2500k', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', source]);

console.log(`passthrough streams (720p30, 2.6 Mbit/s each), ${seconds} s window per step, server = node + ingest worker + packager ffmpegs, ${notRecorded ? 'not recorded' : 'recorded to local storage'}`);
console.log('streams | server CPU (cores) | CPU per stream (% of a core) | server RSS (MiB) | RSS per stream (MiB) | live');
for (const count of counts) {
  const { server, stop } = await startBenchServer({ LADDER: '', ...(notRecorded ? { ARCHIVER: 'external' } : {}) });
  const publishers: ChildProcess[] = [];
  try {
    // Baseline once start-up (PGlite, the ingest worker) has settled.
    await new Promise((r) => setTimeout(r, 3000));
    const idle = treeStats(process.pid, new Set());
    for (let i = 0; i < count; i++) {
      const url = await newChannel(server, `bench${i}`);
      publishers.push(spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', source, '-c', 'copy', '-f', 'flv', url], { stdio: 'ignore' }));
    }
    const exclude = new Set(publishers.map((p) => p.pid!));
    const deadline = Date.now() + 60_000;
    while (server.live.live().filter((s) => s.ready).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 3000));
    const first = treeStats(process.pid, exclude);
    const before = cpuByPid(first.pids);
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const last = treeStats(process.pid, exclude);
    const cores = cpuBetween(before, cpuByPid(last.pids)) / ((Date.now() - startedAt) / 1000);
    const liveCount = server.live.live().filter((s) => s.ready).length;
    const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
    console.log(`${String(count).padStart(7)} | ${cores.toFixed(2).padStart(18)} | ${((cores / count) * 100).toFixed(1).padStart(28)} | ${mib(last.rssBytes).padStart(16)} | ${((last.rssBytes - idle.rssBytes) / count / 1024 / 1024).toFixed(1).padStart(20)} | ${liveCount}`);
  } finally {
    for (const p of publishers) p.kill('SIGKILL');
    await stop();
  }
}
await rm(dir, { recursive: true, force: true });
