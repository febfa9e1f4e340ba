// Chat fan-out benchmark: N clients in one channel of one node, M messages per second posted for a
// bounded time; prints delivery latency (post sent → message received, through the database and
// the bus) and deliveries per second. The load generator runs in child processes so it does not
// share the server's event loop; everything listens on 127.0.0.1 only.
//
//   npm run bench:chat -- --clients 5000 --rate 50 --seconds 20 [--workers 2] [--redis-url URL] [--database-url URL]
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createServer } from '../src/main.ts';
import { arg } from './bench-server.ts';

const HIST_MAX_MS = 60_000;
const MARKER = Buffer.from('"text":"bench ');

function strArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

type WorkerMessage = { kind: 'ready'; connected: number; failed: number } | { kind: 'count'; delivered: number } | { kind: 'result'; delivered: number; hist: number[]; closed: number };

// ── load generator (child process) ──────────────────────────────────────────────────────────────

async function runClients(): Promise<void> {
  const url = strArg('url')!;
  const count = arg('count', 0);
  const hist = new Uint32Array(HIST_MAX_MS + 1);
  let delivered = 0;
  let closed = 0;
  const sockets: WebSocket[] = [];
  const onMessage = (data: Buffer) => {
    // No JSON.parse: find each send time in the text (a busy room batches several messages into
    // one frame), so the generator stays cheap.
    const now = Date.now();
    for (let at = data.indexOf(MARKER); at >= 0; at = data.indexOf(MARKER, at + 1)) {
      let i = at + MARKER.length;
      let sentAt = 0;
      for (let c = data[i]; c !== undefined && c >= 48 && c <= 57; c = data[++i]) sentAt = sentAt * 10 + (c - 48);
      delivered++;
      hist[Math.min(HIST_MAX_MS, Math.max(0, now - sentAt))]!++;
    }
  };
  const connectOne = () =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const timer = setTimeout(() => (ws.terminate(), resolve(false)), 30_000);
      ws.on('message', (data: Buffer) => {
        if (data.includes('"type":"welcome"')) {
          clearTimeout(timer);
          resolve(true);
        } else onMessage(data);
      });
      ws.on('error', () => (clearTimeout(timer), resolve(false)));
      ws.on('close', () => closed++);
      sockets.push(ws);
    });
  let connected = 0;
  let failed = 0;
  // At most 100 handshakes in flight; the loop ends after `count` attempts.
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, connectOne));
    for (const ok of batch) ok ? connected++ : failed++;
  }
  process.send!({ kind: 'ready', connected, failed } satisfies WorkerMessage);
  const reporter = setInterval(() => process.send!({ kind: 'count', delivered } satisfies WorkerMessage), 500);
  process.on('message', (msg: { kind: string }) => {
    if (msg.kind !== 'finish') return;
    clearInterval(reporter);
    for (const ws of sockets) ws.terminate();
    process.send!({ kind: 'result', delivered, hist: [...hist], closed } satisfies WorkerMessage, () => process.exit(0));
  });
}

// ── server, posters and report (parent process) ────────────────────────────────────────────────

async function main(): Promise<void> {
  const clients = arg('clients', 5000);
  const rate = arg('rate', 50);
  const seconds = arg('seconds', 20);
  const workers = arg('workers', Math.max(1, Math.min(4, os.cpus().length)));
  // Posters stay under the default per-user limit (0.5 message/s sustained) with a margin.
  const posters = Math.max(1, Math.ceil(rate / 0.4));

  const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  const serverFds = clients + posters + 256;
  if (Number.isFinite(fdLimit) && serverFds > fdLimit) {
    process.stderr.write(`chat-bench: the server would need about ${serverFds} file descriptors; ulimit -n is ${fdLimit}. Raise it or use fewer --clients.\n`);
    process.exit(2);
  }

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'spillway-chat-bench-'));
  const env: Record<string, string> = { HOST: '127.0.0.1', PORT: '0', RTMP_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  const redisUrl = strArg('redis-url');
  const databaseUrl = strArg('database-url');
  if (redisUrl) Object.assign(env, { REDIS_URL: redisUrl, REDIS_PREFIX: `chatbench:${process.pid}:` });
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const log = createLogger('warn');
  const server = await createServer(loadConfig(env), log);
  const chat = server.chat;
  const base = await server.listen();
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const slug = `bench${process.pid}`.slice(0, 25);
    process.stdout.write(`chat-bench: ${clients} clients in ${workers} processes, ${rate} messages/s for ${seconds} s from ${posters} posters; database ${server.database.kind}, bus ${redisUrl ? 'redis' : 'memory'}; ulimit -n ${fdLimit}\n`);
    await server.accounts.register({ username: slug, email: `${slug}@bench.test`, password: 'benchmark password' });
    const tokens: string[] = [];
    for (let i = 0; i < posters; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, posters - i) }, (_, j) => server.accounts.register({ username: `p${i + j}_${process.pid}`.slice(0, 25), email: `p${i + j}_${process.pid}@bench.test`, password: 'benchmark password' })),
      );
      tokens.push(...batch.map((s) => ('accessToken' in s ? s.accessToken : '')));
    }
    const url = `${base.replace(/^http/, 'ws')}/chat/${slug}`;

    const started = Date.now();
    const perWorker = Math.ceil(clients / workers);
    const counts = new Map<ChildProcess, number>();
    const results: Array<Extract<WorkerMessage, { kind: 'result' }>> = [];
    const ready: Array<Extract<WorkerMessage, { kind: 'ready' }>> = [];
    for (let w = 0; w < workers; w++) {
      const count = Math.min(perWorker, clients - w * perWorker);
      if (count <= 0) break;
      const child = fork(fileURLToPath(import.meta.url), ['--role', 'clients', '--url', url, '--count', String(count)], { execArgv: ['--import', 'tsx'] });
      child.on('message', (m: WorkerMessage) => {
        if (m.kind === 'ready') ready.push(m);
        else if (m.kind === 'count') counts.set(child, m.delivered);
        else results.push(m);
      });
      children.push(child);
    }
    await until(() => ready.length === children.length, 'every client to connect', 180_000);
    const connected = ready.reduce((n, r) => n + r.connected, 0);
    process.stdout.write(`connected ${connected} clients (${ready.reduce((n, r) => n + r.failed, 0)} failed) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    const posterSockets = await Promise.all(tokens.map((token) => openPoster(url, token)));
    let posted = 0;
    let acked = 0;
    let refused = 0;
    for (const p of posterSockets) {
      p.on('message', (data: Buffer) => {
        if (data.includes('"type":"ack"')) acked++;
        else if (data.includes('"type":"error"')) refused++;
      });
    }
    const cpuBefore = process.cpuUsage();
    const t0 = Date.now();
    const total = Math.round(rate * seconds);
    // Posts spread evenly: every 10 ms, whatever is due by then; the loop ends at `total` or the deadline.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
        for (; posted < due; posted++) posterSockets[posted % posterSockets.length]!.send(JSON.stringify({ type: 'post', text: `bench ${Date.now()} #${posted}` }));
        if (posted >= total || Date.now() - t0 > (seconds + 5) * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const postSeconds = (Date.now() - t0) / 1000;
    const expected = () => acked * connected;
    const delivered = () => [...counts.values()].reduce((a, b) => a + b, 0);
    await until(() => acked + refused >= posted && delivered() >= expected(), 'deliveries to drain', 15_000).catch(() => {});
    const wallS = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    for (const c of children) c.send({ kind: 'finish' });
    await until(() => results.length === children.length, 'worker results', 30_000);
    for (const p of posterSockets) p.terminate();

    const hist = new Array<number>(HIST_MAX_MS + 1).fill(0);
    for (const r of results) r.hist.forEach((n, i) => (hist[i]! += n));
    const n = hist.reduce((a, b) => a + b, 0);
    const pct = (p: number) => {
      let seen = 0;
      for (let i = 0; i < hist.length; i++) if ((seen += hist[i]!) >= p * n) return i;
      return HIST_MAX_MS;
    };
    const lines = [
      `posted ${posted} in ${postSeconds.toFixed(1)} s: ${acked} accepted, ${refused} refused`,
      `delivered ${n} of ${acked * connected} expected (${((100 * n) / Math.max(1, acked * connected)).toFixed(2)} %) in ${wallS.toFixed(1)} s: ${Math.round(n / postSeconds)} messages delivered/s`,
      `delivery latency ms: p50 ${pct(0.5)}  p90 ${pct(0.9)}  p99 ${pct(0.99)}  max ${pct(1)}`,
      `server process CPU: ${((cpu.user + cpu.system) / 1e6 / wallS).toFixed(2)} cores (includes the ${posters} posters); sockets dropped as too slow: ${chat.rooms.dropped}; client sockets closed by the server: ${results.reduce((a, r) => a + r.closed, 0)}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await stop();
  }
}

function openPoster(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error('poster did not sign in')), 30_000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.on('message', function first(data: Buffer) {
      if (!data.includes('"type":"authed"')) return;
      clearTimeout(timer);
      ws.off('message', first);
      resolve(ws);
    });
    ws.on('error', reject);
  });
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

(strArg('role') === 'clients' ? runClients() : main()).catch((err) => {
  process.stderr.write(`chat-bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
