// npm run bench:latency — glass-to-glass latency in Chromium + hls.js (low-latency mode).
// The publisher draws its frame number as 16 blocks across the top of the picture; the player
// page reads it back from every frame it actually shows (requestVideoFrameCallback + canvas).
// Latency of a frame = when it was shown − when the publisher made it (start + n / fps). With -re
// ffmpeg reads frame n at start + n / fps; the start is estimated from the publisher's progress
// reports (wall clock − encoded media time, the smallest over the run, which is later than the
// true start by at most one encode step). The spawn time of the publisher is also printed as a
// pessimistic reference (it counts ffmpeg's own start-up as latency).
// Flags: --runs N (default 3) --seconds S of playback per run (default 30) --only passthrough|ladder
// --part-ms N (the server's PART_DURATION_MS; default the server's own default) --trace (print
// hls.js's log of each run's start: the playlists, the parts it loaded, where it began playing)
// --join-after S (open the player S seconds after the stream went live, as a viewer joining later).
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { CHROMIUM_PATH, servePlayer, type PlayerStats } from '../test/helpers/browser.ts';
import { LIVE_HLS_SETTINGS } from '../web/src/player.ts';
import { arg, median, newChannel, percentile, startBenchServer } from './bench-server.ts';

const FPS = 30;
const runs = arg('runs', 3);
const seconds = arg('seconds', 30);
const WARMUP_S = 5;
const partMs = arg('part-ms', 0);
const traceStart = process.argv.includes('--trace');
const joinAfter = arg('join-after', 0);

const teardowns: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

function clockFilter(): string {
  const bits = Array.from({ length: 16 }, (_, b) => `drawbox=x=${b}*iw/16:y=0:w=iw/16:h=ih/18:color=white:t=fill:enable='eq(mod(floor(n/${2 ** b}),2),1)'`);
  return ['drawbox=x=0:y=0:w=iw:h=ih/18:color=black:t=fill', ...bits].join(',');
}

interface Mode {
  name: string;
  ladder: string;
  width: number;
  height: number;
  /** 'external' with no archiver running: the stream is not recorded (the baseline for recording's cost). */
  archiver?: 'external';
  /** hls.js settings on top of low-latency mode (the web UI player's own); absent: hls.js defaults */
  hlsConfig?: Record<string, unknown>;
  /** the web UI player's own catch-up (web/src/live-catchup.ts) runs in the page */
  catchUp?: boolean;
}

async function once(mode: Mode, playerBase: string) {
  const { server, base, stop } = await startBenchServer({ LADDER: mode.ladder, ...(partMs ? { PART_DURATION_MS: String(partMs) } : {}), ...(mode.archiver ? { ARCHIVER: mode.archiver } : {}) });
  const url = await newChannel(server, 'bench');
  const spawnedAt = Date.now();
  const publisher = spawn('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${mode.width}x${mode.height}:rate=${FPS},${clockFilter()}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(FPS * 2), '-keyint_min', String(FPS * 2), '-b:v', '2500k',
    '-c:a', 'aac', '-b:a', '128k', '-progress', 'pipe:1', '-stats_period', '0.5', '-f', 'flv', url,
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  let startEstimate = Infinity;
  publisher.stdout!.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/out_time_us=(\d+)/g)) {
      const us = Number(m[1]);
      if (us > 0) startEstimate = Math.min(startEstimate, Date.now() - us / 1000);
    }
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'] });
  try {
    let playbackUrl: string | undefined;
    for (let i = 0; i < 200 && !playbackUrl; i++) {
      playbackUrl = (await server.app.inject({ url: '/api/v1/channels/bench' })).json().playbackUrl;
      if (!playbackUrl) await new Promise((r) => setTimeout(r, 100));
    }
    if (!playbackUrl) throw new Error('the stream never went live');
    if (joinAfter) await new Promise((r) => setTimeout(r, joinAfter * 1000));
    const page = await browser.newPage();
    await page.goto(`${playerBase}/player.html?frameClock=1&fps=${FPS}${traceStart ? '&trace=1' : ''}${mode.catchUp ? '&catchUp=1' : ''}${mode.hlsConfig ? `&config=${encodeURIComponent(JSON.stringify(mode.hlsConfig))}` : ''}&src=${encodeURIComponent(base + playbackUrl)}`);
    await page.waitForFunction(() => (window as unknown as { stats: PlayerStats }).stats.started, null, { timeout: 30_000 });
    await page.waitForTimeout((seconds + WARMUP_S) * 1000);
    const stats = await page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats);
    if (stats.trace) {
      // the start, up to three seconds after the first frame, then its milestones on one line;
      const until = (stats.firstFrameAt ?? 0) + 3000;
      // after it, only warnings (stalls, errors) and the once-a-second ticks around them
      for (const line of stats.trace) if (Number(line.split(' ', 1)[0]) <= until || / WARN | ERROR |tick /.test(line)) console.log(`    | ${line}`);
      console.log(`    start: ${startMilestones(stats.trace)}`);
    }
    const cutoff = stats.frameLatency[0]!.shownAt + WARMUP_S * 1000;
    const shown = stats.frameLatency.filter((f) => f.shownAt > cutoff);
    const latencies = shown.map((f) => (f.shownAt - (startEstimate + (f.n / FPS) * 1000)) / 1000);
    const fromSpawn = shown.map((f) => (f.shownAt - (spawnedAt + (f.n / FPS) * 1000)) / 1000);
    // hls.js's own latency (its playhead behind the playlist's edge, sampled every 0.5 s) and its
    // target: glass-to-glass minus the first is what the server and the publisher add.
    const target = await page.evaluate(() => (window as unknown as { hls: { targetLatency: number | null } }).hls.targetLatency ?? NaN);
    return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), spawnP50: percentile(fromSpawn, 50), firstFrameMs: stats.firstFrameAt ?? NaN, stalls: stats.stalls, samples: latencies.length, hlsLatency: percentile(stats.latency, 50), hlsTarget: target };
  } finally {
    await browser.close();
    publisher.kill('SIGKILL');
    await stop();
  }
}

/** When the player did each step of its start (ms after the page began), from its trace. */
function startMilestones(trace: string[]): string {
  const at = (re: RegExp) => {
    for (const line of trace) {
      const m = re.exec(line);
      if (m) return { ms: line.split(' ', 1)[0], m };
    }
    return null;
  };
  const steps: Array<[string, RegExp]> = [
    ['first playlist', /LEVEL_LOADED edge ([\d.]+)/],
    ['start position', /Setting startPosition to ([\d.]+) next load/],
    ['first part asked', /FRAG_LOADING sn \d+ part \d+ start ([\d.]+) main/],
    ['transmuxer ready', /Found initPTS/],
    ['seek', /seek to target start position/],
    ['seeked', /Media seeked/],
    ['playing', /playing at [\d.]+ latency ([\d.]+)/],
  ];
  return steps.map(([name, re]) => {
    const hit = at(re);
    return `${name} ${hit ? `${hit.ms} ms${hit.m[1] ? ` (${Number(hit.m[1]).toFixed(2)})` : ''}` : '-'}`;
  }).join(', ');
}

const playerBase = await servePlayer(t);
const ladder = '720:2800,480:1400,360:800';
const allModes: Mode[] = [
  { name: 'passthrough only (720p source)', ladder: '', width: 1280, height: 720 },
  { name: `passthrough only, web UI player (hls.js with ${JSON.stringify(LIVE_HLS_SETTINGS)} and its catch-up)`, ladder: '', width: 1280, height: 720, hlsConfig: LIVE_HLS_SETTINGS, catchUp: true },
  { name: 'full ladder (720p source + 480p + 360p)', ladder, width: 1280, height: 720 },
  { name: 'full ladder, not recorded (baseline)', ladder, width: 1280, height: 720, archiver: 'external' },
];
// --only passthrough|ladder picks modes by name; runs of the modes alternate so drift in the
// machine's load spreads over all of them.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]! : '';
const modes = allModes.filter((m) => m.name.includes(only));
console.log(`glass-to-glass latency, ${runs} runs × ${seconds} s per mode (frames 16-bit counted, ${FPS} fps, 2 s publisher keyframes)`);
const results = new Map<Mode, Array<Awaited<ReturnType<typeof once>>>>(modes.map((m) => [m, []]));
for (let r = 0; r < runs; r++) {
  for (const mode of modes) {
    const res = await once(mode, playerBase);
    results.get(mode)!.push(res);
    console.log(`  ${mode.name} run ${r + 1}: p50 ${res.p50.toFixed(3)} s, p95 ${res.p95.toFixed(3)} s (p50 from spawn ${res.spawnP50.toFixed(3)} s), first frame ${Math.round(res.firstFrameMs)} ms, stalls ${res.stalls}, ${res.samples} frames; hls.js latency p50 ${res.hlsLatency.toFixed(3)} s (target ${res.hlsTarget.toFixed(3)} s)`);
  }
}
for (const [mode, rs] of results) {
  console.log(`${mode.name}: median of runs: p50 ${median(rs.map((r) => r.p50)).toFixed(3)} s, p95 ${median(rs.map((r) => r.p95)).toFixed(3)} s (p50 from spawn ${median(rs.map((r) => r.spawnP50)).toFixed(3)} s), first frame ${Math.round(median(rs.map((r) => r.firstFrameMs)))} ms, stalls ${rs.reduce((s, r) => s + r.stalls, 0)} in all; hls.js latency p50 ${median(rs.map((r) => r.hlsLatency)).toFixed(3)} s`);
}
for (const fn of teardowns.reverse()) await fn();
