// npm run bench:edge — N simulated LL-HLS viewers through the nginx edge (the repository's
// nginx.conf, Debian's nginx, no shared disk) against one origin node, at N = 10, 100 and 1000.
// Each viewer does what hls.js does at the live edge: a blocking playlist reload for the next part
// (_HLS_msn/_HLS_part), then a GET of the preload-hinted part, which the origin holds until written.
// Figures per N: origin requests per second (from the origin's own /metrics, less this bench's
// probe), viewer-side part latency (part available at the origin → its last byte received by the
// viewer, p50/p99) and the edge's CPU. "Available at the origin" is when a probe client holding a
// blocking reload directly on the origin is told the part exists.
// Flags: --runs 3 --seconds 20 --viewers 10,100,1000 --part-ms 200.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import os from 'node:os';
import http from 'node:http';
import { startNginxProcess } from '../test/helpers/nginx.ts';
import { startNode } from '../test/helpers/node-process.ts';
import { tempDir } from '../test/helpers/services.ts';
import { until } from '../test/helpers/media.ts';
import { arg, median, percentile } from './bench-server.ts';
import { cpuBetween, cpuByPid, treeStats } from './proc-stats.ts';
import { KeepAliveClient } from './keepalive-client.ts';

function textArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const runs = arg('runs', 3);
const seconds = arg('seconds', 20);
const partMs = arg('part-ms', 200);
const viewerCounts = textArg('viewers', '10,100,1000').split(',').map(Number);
// The viewers' HTTP client: plain keep-alive connections, one per request in flight.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4096 });
function get(url: string): Promise<{ ok: boolean; status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const cleanups: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => void cleanups.push(fn) };
try {
  const origin = await startNode(t, {
    HOST: '127.0.0.1',
    PORT: '0',
    RTMP_PORT: '0',
    DATA_DIR: await tempDir(t, 'edge-bench'),
    SECRET_KEY: randomBytes(32).toString('hex'),
    LADDER: '',
    PART_DURATION_MS: String(partMs),
    LOG_LEVEL: 'info',
  });
  const edge = await startNginxProcess(t, { appUrl: origin.url, mediaDir: await tempDir(t, 'edge-empty') });
  const reg = await (await fetch(`${origin.url}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', email: 'bench@bench.test', password: 'benchmark password' }) })).json();
  const { streamKey } = await (await fetch(`${origin.url}/api/v1/channels/bench/stream-key`, { headers: { authorization: `Bearer ${reg.accessToken}` } })).json();
  const publisher = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${origin.rtmpPort}/live/${streamKey}`], { stdio: 'ignore' });
  cleanups.push(() => publisher.kill('SIGKILL'));
  const live = await until(async () => {
    const c = await (await fetch(`${origin.url}/api/v1/channels/bench`)).json();
    return c.live ? c : null;
  }, 'the stream to go live', 60_000, 200);
  const playlistPath = `/hls/${live.sessionId}/source/index.m3u8`;
  await until(async () => ((await (await fetch(origin.url + playlistPath)).text()).match(/#EXTINF/g)?.length ?? 0) >= 2, 'two segments', 30_000, 200);

  // The probe: when each part becomes available at the origin.
  const availableAt = new Map<string, number>();
  let probeRequests = 0;
  let stopping = false;
  const probe = (async () => {
    let next = lastPart((await get(origin.url + playlistPath)).body.toString());
    while (!stopping) {
      probeRequests++;
      const res = await get(`${origin.url}${playlistPath}?_HLS_msn=${next.msn}&_HLS_part=${next.part + 1}`).catch(() => null);
      const text = res?.ok ? res.body.toString() : '';
      const now = Date.now();
      for (const uri of text.matchAll(/#EXT-X-PART:[^\n]*URI="(part-\d+\.m4s)"/g)) if (!availableAt.has(uri[1]!)) availableAt.set(uri[1]!, now);
      if (text) next = lastPart(text);
    }
  })();

  const results: Array<{ viewers: number; run: number; originRps: number; p50: number; p99: number; edgeCpu: number; parts: number; errors: number; keepUp: number; selfCpu: number }> = [];
  for (const n of viewerCounts) {
    for (let run = 1; run <= runs; run++) {
      const figures = await phase(n);
      results.push({ viewers: n, run, ...figures });
      console.log(
        `N=${n} run ${run}: origin ${figures.originRps.toFixed(1)} req/s, part latency p50 ${figures.p50} ms p99 ${figures.p99} ms, edge CPU ${figures.edgeCpu.toFixed(1)} % of a core, ` +
          `${figures.parts} parts received (${(figures.keepUp * 100).toFixed(0)} % of every part to every viewer), ${figures.errors} errors, load generator CPU ${figures.selfCpu.toFixed(0)} %, load ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
  stopping = true;
  await probe.catch(() => {});

  console.log(`\nload: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min), ${os.cpus().length} cores; part ${partMs} ms; ${runs} runs × ${seconds} s per N; medians of the runs:`);
  console.log('viewers  origin req/s  part p50 ms  part p99 ms  edge CPU %  parts delivered %');
  for (const n of viewerCounts) {
    const rs = results.filter((r) => r.viewers === n);
    const m = (f: (r: (typeof rs)[number]) => number) => median(rs.map(f));
    console.log(`${String(n).padStart(7)}  ${m((r) => r.originRps).toFixed(1).padStart(12)}  ${String(m((r) => r.p50)).padStart(11)}  ${String(m((r) => r.p99)).padStart(11)}  ${m((r) => r.edgeCpu).toFixed(1).padStart(10)}  ${(m((r) => r.keepUp) * 100).toFixed(0).padStart(17)}`);
  }

  async function phase(n: number) {
    let running = true;
    const latencies: number[] = [];
    let errors = 0;
    const edgeAddress = new URL(edge.url);
    const viewer = async () => {
      const client = new KeepAliveClient(edgeAddress.hostname, Number(edgeAddress.port));
      const get = async (url: string) => {
        const res = await client.get(url.slice(edge.url.length));
        return { ...res, ok: res.status === 200 };
      };
      let next = lastPart((await get(edge.url + playlistPath)).body.toString());
      while (running) {
        try {
          const res = await get(`${edge.url}${playlistPath}?_HLS_msn=${next.msn}&_HLS_part=${next.part + 1}`);
          const text = res.body.toString();
          if (!res.ok) throw new Error(`playlist ${res.status}`);
          next = lastPart(text);
          const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(part-\d+\.m4s)"/.exec(text)?.[1];
          if (!hint) continue;
          const part = await get(`${edge.url}/hls/${live.sessionId}/source/${hint}`);
          const receivedAt = Date.now();
          if (!part.ok) throw new Error(`part ${part.status}`);
          const available = availableAt.get(hint);
          if (running && measuring && available !== undefined) latencies.push(receivedAt - available);
        } catch {
          errors++;
          if (running) await new Promise((r) => setTimeout(r, partMs));
        }
      }
      client.close();
    };
    let measuring = false;
    const viewers = Array.from({ length: n }, () => viewer());
    // Warm-up: every viewer at the live edge before counting.
    await new Promise((r) => setTimeout(r, 3000));
    measuring = true;
    errors = 0;
    const originBefore = await hlsRequests(origin.url);
    const probeBefore = probeRequests;
    const edgePids = treeStats(edge.pid, new Set()).pids;
    const cpuBefore = cpuByPid(edgePids);
    const selfBefore = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsedS = (Date.now() - startedAt) / 1000;
    const edgeCpu = (cpuBetween(cpuBefore, cpuByPid(edgePids)) / elapsedS) * 100;
    const selfCpu = ((process.cpuUsage().user + process.cpuUsage().system) / 1e6 - selfBefore) / elapsedS * 100;
    const originRequests = (await hlsRequests(origin.url)) - originBefore - (probeRequests - probeBefore);
    measuring = false;
    running = false;
    await Promise.all(viewers);
    // A viewer keeping up receives every part: 1000/partMs a second. Fewer means the load generator
    // (this process) fell behind, and the latencies measure it rather than the edge.
    const keepUp = latencies.length / n / elapsedS / (1000 / partMs);
    return { originRps: originRequests / elapsedS, p50: percentile(latencies, 50), p99: percentile(latencies, 99), edgeCpu, parts: latencies.length, errors, keepUp, selfCpu };
  }
} finally {
  agent.destroy();
  for (const fn of cleanups.reverse()) await fn();
}

/** The newest part a media playlist lists, as hls.js tracks it for its next blocking reload. */
function lastPart(text: string): { msn: number; part: number } {
  const lines = text.split('\n');
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  let part = -1;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-PART:')) part++;
    else if (line.startsWith('#EXTINF')) {
      msn++;
      part = -1;
    }
  }
  return { msn, part };
}

/** Requests the origin answered under /hls, from its Prometheus counters. */
async function hlsRequests(originUrl: string): Promise<number> {
  const text = await (await fetch(`${originUrl}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^spillway_http_requests_total\{[^}]*route="\/hls[^"]*"[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}
