// npm run bench:ingest — CPU and memory per concurrent passthrough stream, Spillway against
// nginx-rtmp writing HLS (Debian's libnginx-mod-rtmp, installed here if missing) in the same run,
// at 1, 10 and 50 streams. Spillway = node + ingest worker (+ any ffmpeg), producing LL-HLS and
// recording to local storage; nginx-rtmp = its master and worker. Publishers loop a pre-encoded
// 720p H.264/AAC file with -c copy; their CPU is not counted. Each figure is the median of --runs.
//
// --ladder: instead, one 1080p stream with the full ladder (720p/480p/360p) through Spillway against
// the same ffmpeg ladder command run by hand on the file (-re), CPU per stream.
// Spillway runs as it is deployed, `src/main.ts` in a process of its own with embedded defaults
// (PGlite, local storage), started fresh for every step so no step inherits another's heap.
// RSS per stream is the slope between the smallest and largest count (a server's idle RSS moves
// with start-up garbage, so RSS at N minus RSS at rest is noise at small N).
// The window opens --warmup seconds after every stream plays, for every server alike: a stream runs
// for hours, so what it costs is the steady state, not V8 compiling the media path in its first
// seconds (a once-per-process cost that --warmup 3, the old setting, counts against one stream).
// Flags: --counts 1,10,50 --seconds 20 (window per step) --warmup 30 --runs 3 --not-recorded --ladder
// --part-ms N (the server's PART_DURATION_MS; default the server's own default)
// --publisher obs|ffmpeg: who publishes the file. obs (the default): this process, with the test
// publisher set up as OBS's rtmp-stream.c sets librtmp (4096-byte chunks, Nagle's algorithm on), the
// same to both servers. ffmpeg (what this bench used before): `ffmpeg -re -c copy`, whose publisher
// takes the server's own chunk size (rtmpproto.c's handle_chunk_size), so it sent node-media-server
// 65535-byte chunks and nginx-rtmp (chunk_size 4096 here) 4096-byte ones.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildFfmpegArgs } from '../packager/ffmpeg-args.ts';
import type { RtmpTag } from '../test/helpers/enhanced-tags.ts';
import { readFlvTags } from '../test/helpers/flv-file.ts';
import { publishRtmp } from '../test/helpers/rtmp-publisher.ts';
import { arg, median } from './bench-server.ts';
import { cpuBetween, cpuByPid, treeStats } from './proc-stats.ts';

const run = promisify(execFile);
const countsArg = process.argv.indexOf('--counts');
const counts = countsArg >= 0 ? process.argv[countsArg + 1]!.split(',').map(Number) : [1, 10, 50];
const seconds = arg('seconds', 20);
const warmup = arg('warmup', 30);
const runs = arg('runs', 3);
const notRecorded = process.argv.includes('--not-recorded');
const ladderMode = process.argv.includes('--ladder');
const partMs = arg('part-ms', 0);
const publisherArg = process.argv.indexOf('--publisher');
const publisherKind = publisherArg >= 0 ? process.argv[publisherArg + 1] : 'obs';
if (publisherKind !== 'ffmpeg' && publisherKind !== 'obs') throw new Error(`--publisher ${publisherKind}: ffmpeg or obs`);
const OBS_CHUNK_SIZE = 4096;
const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => b / 1024 / 1024;

interface Measure {
  cores: number;
  rssBytes: number;
}

/** CPU (cores) and RSS of the tree at `root` over the window, publishers excluded. */
async function measure(root: number, exclude: Set<number>): Promise<Measure> {
  const first = treeStats(root, exclude);
  const before = cpuByPid(first.pids);
  const startedAt = Date.now();
  await sleep(seconds * 1000);
  const last = treeStats(root, exclude);
  const cores = cpuBetween(before, cpuByPid(last.pids)) / ((Date.now() - startedAt) / 1000);
  return { cores, rssBytes: last.rssBytes };
}

interface Publisher {
  /** its process, left out of the server's figures; null when it runs in this process */
  pid: number | null;
  stop: () => void;
}

let sourceTags: RtmpTag[] | null = null;

/** Publishes `source` to `url` in a loop, at real-time pace, until stopped. */
async function publishLoop(source: string, url: string): Promise<Publisher> {
  if (publisherKind === 'ffmpeg') {
    const child = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', source, '-c', 'copy', '-f', 'flv', url], { stdio: 'ignore' });
    return { pid: child.pid ?? null, stop: () => child.kill('SIGKILL') };
  }
  sourceTags ??= readFlvTags(await readFile(source)).filter((tag): tag is RtmpTag => tag.type === 8 || tag.type === 9);
  const { port, pathname } = new URL(url);
  const publisher = publishRtmp(
    { teardown: () => {} },
    { port: Number(port), key: pathname.split('/').at(-1)!, tags: sourceTags, metadata: { width: 1280, height: 720, framerate: 30, videocodecid: 7, audiocodecid: 10 }, seconds: 24 * 3600, chunkSize: OBS_CHUNK_SIZE, nagle: true },
  );
  publisher.started.catch((err) => console.error(`publisher: ${(err as Error).message}`));
  return { pid: null, stop: () => publisher.kill() };
}

const publisherPids = (publishers: Publisher[]) => new Set(publishers.flatMap((p) => (p.pid === null ? [] : [p.pid])));

const REPO = fileURLToPath(new URL('..', import.meta.url));

async function spillway(source: string, count: number, env: Record<string, string>): Promise<Measure & { live: number; warnings: number; warningMessages: string[] }> {
  const dataDir = await mkdtemp(path.join(dir, 'spillway-'));
  const [port, rtmpPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO,
    // Only what the bench chooses: a DATABASE_URL or S3 settings in the caller's shell would change what is measured.
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), RTMP_PORT: String(rtmpPort), DATA_DIR: dataDir,
      LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT: '100000', ...env, ...(partMs ? { PART_DURATION_MS: String(partMs) } : {}), ...(notRecorded ? { ARCHIVER: 'external' } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Warnings (a publisher's media dropped for a slow packager, say) are counted, and the messages of
  // the first five kinds kept with their counts, so a run that warned says what happened.
  let warnings = 0;
  const warningMessages = new Map<string, number>();
  server.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!/"level":(40|50|60)/.test(line)) continue;
      warnings += 1;
      const msg = /"msg":"([^"]{0,120})/.exec(line)?.[1] ?? '(no message)';
      if (warningMessages.has(msg) || warningMessages.size < 5) warningMessages.set(msg, (warningMessages.get(msg) ?? 0) + 1);
    }
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const publishers: Publisher[] = [];
  try {
    await waitFor(() => fetch(`${base}/healthz`).then((r) => r.ok, () => false), 60_000);
    await sleep(3000); // PGlite and the ingest worker settle
    for (let i = 0; i < count; i++) publishers.push(await publishLoop(source, `rtmp://127.0.0.1:${rtmpPort}/live/${await streamKey(base, `bench${i}`)}`));
    const playing = async () => (await Promise.all(Array.from({ length: count }, (_, i) => isPlaying(base, `bench${i}`)))).filter(Boolean).length;
    await waitFor(async () => (await playing()) === count, 60_000);
    await sleep(warmup * 1000);
    const m = await measure(server.pid!, publisherPids(publishers));
    return { ...m, live: await playing(), warnings, warningMessages: [...warningMessages].map(([msg, n]) => `${n} × ${msg}`) };
  } finally {
    for (const p of publishers) p.stop();
    server.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await sleep(200);
}

/** Registers `username` on the server and returns its channel's stream key. */
async function streamKey(base: string, username: string): Promise<string> {
  const reg = await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, email: `${username}@bench.test`, password: 'benchmark password' }) });
  const { accessToken } = (await reg.json()) as { accessToken: string };
  const key = await fetch(`${base}/api/v1/channels/${username}/stream-key`, { headers: { authorization: `Bearer ${accessToken}` } });
  return ((await key.json()) as { streamKey: string }).streamKey;
}

/** The channel is live and its master playlist is served. */
async function isPlaying(base: string, slug: string): Promise<boolean> {
  try {
    const channel = (await (await fetch(`${base}/api/v1/channels/${slug}`)).json()) as { live?: boolean; playbackUrl?: string };
    if (!channel.live || !channel.playbackUrl) return false;
    const master = await fetch(`${base}${channel.playbackUrl}`);
    return master.ok && (await master.text()).includes('#EXT-X-STREAM-INF');
  } catch {
    return false;
  }
}

async function ensureNginxRtmp(): Promise<void> {
  if (existsSync(RTMP_MODULE)) return;
  console.log('installing Debian\'s libnginx-mod-rtmp for the baseline…');
  await run('apt-get', ['install', '-y', '-qq', 'libnginx-mod-rtmp'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function nginxRtmp(source: string, count: number, dir: string): Promise<Measure & { live: number }> {
  const runDir = await mkdtemp(path.join(dir, 'nginx-'));
  const hls = path.join(runDir, 'hls');
  await mkdir(hls);
  const port = await freePort();
  // HLS as nginx-rtmp's README configures it; 2 s fragments to match the publisher's keyframes.
  await writeFile(path.join(runDir, 'nginx.conf'), `load_module ${RTMP_MODULE};
worker_processes 1;
pid ${runDir}/nginx.pid;
error_log ${runDir}/error.log warn;
events { worker_connections 1024; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096;
  application live { live on; hls on; hls_path ${hls}; hls_fragment 2s; hls_playlist_length 10s; record off; } } }
http { access_log off; server { listen 127.0.0.1:${await freePort()}; location / { root ${hls}; } } }
`);
  const nginx = spawn('nginx', ['-c', path.join(runDir, 'nginx.conf'), '-g', 'daemon off; user root;'], { stdio: 'ignore' });
  const publishers: Publisher[] = [];
  try {
    await sleep(2000);
    for (let i = 0; i < count; i++) publishers.push(await publishLoop(source, `rtmp://127.0.0.1:${port}/live/stream${i}`));
    const playing = () => Array.from({ length: count }, (_, i) => existsSync(path.join(hls, `stream${i}.m3u8`))).filter(Boolean).length;
    await waitFor(async () => playing() === count, 60_000);
    await sleep(warmup * 1000);
    const m = await measure(nginx.pid!, publisherPids(publishers));
    return { ...m, live: playing() };
  } finally {
    for (const p of publishers) p.stop();
    nginx.kill('SIGQUIT');
    await new Promise((r) => nginx.once('exit', r));
    await rm(runDir, { recursive: true, force: true });
  }
}

/** The ladder ffmpeg argv Spillway runs, but reading the file itself at real-time speed. */
async function ladderByHand(source: string): Promise<number> {
  const { args, outputs } = buildFfmpegArgs({ inputUrl: source, inputIsH264Aac: false, source: { width: 1920, height: 1080, fps: 30 } });
  const i = args.indexOf('-i');
  const child = spawn('ffmpeg', [...args.slice(0, i), '-re', '-stream_loop', '-1', ...args.slice(i)], { stdio: ['ignore', 'pipe', 'ignore', ...outputs.map(() => 'pipe' as const)] });
  for (const stream of child.stdio.slice(1)) (stream as NodeJS.ReadableStream | null)?.resume();
  try {
    await sleep(Math.max(warmup, 8) * 1000);
    return (await measure(child.pid!, new Set())).cores;
  } finally {
    child.kill('SIGKILL');
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-bench-ingest-'));
const size = ladderMode ? '1920x1080' : '1280x720';
const source = path.join(dir, 'source.flv');
await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-b:v', ladderMode ? '5000k' : '2500k', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', source]);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

if (ladderMode) {
  console.log(`full ladder (1080p30 source → 720p/480p/360p, x264 veryfast), ${seconds} s window after ${warmup} s of warm-up, median of ${runs} runs; load average at start ${load()}`);
  const ours: number[] = [];
  const byHand: number[] = [];
  for (let r = 0; r < runs; r++) {
    ours.push((await spillway(source, 1, { LADDER: '720:2800,480:1400,360:800' })).cores);
    byHand.push(await ladderByHand(source));
    console.log(`  run ${r + 1}: Spillway ${ours.at(-1)!.toFixed(3)} cores, ffmpeg by hand ${byHand.at(-1)!.toFixed(3)} cores (load ${load()})`);
  }
  console.log(`Spillway ${median(ours).toFixed(3)} cores per stream, ffmpeg ladder by hand ${median(byHand).toFixed(3)}: ${(median(ours) / median(byHand)).toFixed(3)} ×`);
} else {
  await ensureNginxRtmp();
  console.log(`passthrough streams (720p30, 2.6 Mbit/s each, published ${publisherKind === 'obs' ? `as OBS does, in ${OBS_CHUNK_SIZE}-byte chunks` : 'by ffmpeg, in the server\'s chunk size'}), ${seconds} s window per step after ${warmup} s of warm-up, median of ${runs} runs; Spillway ${notRecorded ? 'not recording' : 'recording to local storage'}${partMs ? `, ${partMs} ms parts` : ''}; load average at start ${load()}`);
  console.log('streams | server      | CPU (cores) | CPU per stream (% core) | RSS (MiB) | live');
  const rssAt = { spillway: new Map<number, number>(), nginx: new Map<number, number>() };
  for (const count of counts) {
    const results = { spillway: [] as Array<Measure & { live: number; warnings?: number; warningMessages?: string[] }>, nginx: [] as Array<Measure & { live: number; warnings?: number }> };
    for (let r = 0; r < runs; r++) {
      results.spillway.push(await spillway(source, count, { LADDER: '' }));
      results.nginx.push(await nginxRtmp(source, count, dir));
    }
    for (const [name, rs] of Object.entries(results) as Array<['spillway' | 'nginx', Array<Measure & { live: number }>]>) {
      const cores = median(rs.map((x) => x.cores));
      rssAt[name].set(count, median(rs.map((x) => x.rssBytes)));
      console.log(`${String(count).padStart(7)} | ${name.padEnd(11)} | ${cores.toFixed(3).padStart(11)} | ${((cores / count) * 100).toFixed(2).padStart(23)} | ${mib(rssAt[name].get(count)!).toFixed(0).padStart(9)} | ${Math.min(...rs.map((x) => x.live))}`);
    }
    const warned = results.spillway.map((x) => x.warnings ?? 0);
    if (warned.some((w) => w > 0)) {
      console.log(`        (Spillway logged ${warned.join(', ')} warnings in its runs: media dropped for a slow packager and the like)`);
      for (const [i, r] of results.spillway.entries()) for (const m of r.warningMessages ?? []) console.log(`          run ${i + 1}: ${m}`);
    }
    const ratio = median(results.spillway.map((x) => x.cores)) / median(results.nginx.map((x) => x.cores));
    console.log(`        → Spillway / nginx-rtmp CPU: ${ratio.toFixed(2)} × (load ${load()})`);
  }
  const [low, high] = [Math.min(...counts), Math.max(...counts)];
  if (high > low) {
    for (const [name, at] of Object.entries(rssAt)) console.log(`RSS per stream, ${name}: ${mib((at.get(high)! - at.get(low)!) / (high - low)).toFixed(2)} MiB (slope from ${low} to ${high} streams)`);
  }
}
await rm(dir, { recursive: true, force: true });
