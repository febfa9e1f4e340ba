// npx tsx bench/rtmp-worker-memory.ts [--waves 5 --sockets 200 --hold-ms 3000 --after-s 20]
//   or [--fuzz 2000 --seed 424242]: the fuzzer's attack mix (test/fuzz/rtmp-scenarios.ts) instead of waves.
// Issue #11: the RTMP worker's memory during and after a burst of truncated handshakes and idle
// sockets while a real stream is live, and whether the live playlists stall. The worker is
// inspected through the Node inspector (SIGUSR1, 127.0.0.1:9229): process.memoryUsage() and
// event-loop delay from inside it, and a forced full GC at the end, to tell objects still held
// (a leak) from memory the allocator keeps (RSS that GC cannot give back). Prints; asserts nothing.
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { watchPlaylist, rssMiB } from '../test/helpers/playlist-watch.ts';
import fc from 'fast-check';
import { rtmpCase } from '../test/fuzz/rtmp-scenarios.ts';
import { c0c1, runScript } from '../test/helpers/rtmp-fuzz-client.ts';
import { arg, newChannel, startBenchServer } from './bench-server.ts';

const waves = arg('waves', 5);
const perWave = arg('sockets', 200);
const holdMs = arg('hold-ms', 3000);
const afterS = arg('after-s', 20);
const fuzzCases = arg('fuzz', 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inspect(pid: number): Promise<(expression: string) => Promise<unknown>> {
  process.kill(pid, 'SIGUSR1');
  let url: string | undefined;
  for (let i = 0; i < 50 && !url; i++) {
    await sleep(100);
    const list = await fetch('http://127.0.0.1:9229/json/list').then((r) => r.json() as Promise<Array<{ webSocketDebuggerUrl: string }>>).catch(() => []);
    url = list[0]?.webSocketDebuggerUrl;
  }
  if (!url) throw new Error('the worker inspector did not open on 127.0.0.1:9229');
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const pending = new Map<number, (r: { result?: { result?: { value?: unknown } } }) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<{ result?: { result?: { value?: unknown } } }>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  const evaluate = async (expression: string) => (await call('Runtime.evaluate', { expression, returnByValue: true })).result?.result?.value;
  // Live instances of a class (queryObjects collects garbage first): a leak shows here, not in RSS.
  const instances = async (classExpression: string) => {
    const proto = (await call('Runtime.evaluate', { expression: `(${classExpression}).prototype` })) as { result: { result: { objectId: string } } };
    const found = (await call('Runtime.queryObjects', { prototypeObjectId: proto.result.result.objectId })) as { result: { objects: { objectId: string } } };
    const length = (await call('Runtime.callFunctionOn', { objectId: found.result.objects.objectId, functionDeclaration: 'function () { return this.length; }', returnByValue: true })) as { result: { result: { value: number } } };
    return length.result.result.value;
  };
  Object.assign(evaluate, { gc: () => call('HeapProfiler.collectGarbage'), close: () => ws.close(), instances });
  return evaluate;
}

const STATS = `(() => {
  const req = process.getBuiltinModule('module').createRequire(process.argv[1]);
  const ctx = req('node-media-server/src/core/context.js');
  const m = process.memoryUsage();
  const mib = (n) => Math.round(n / 1048576 * 10) / 10;
  const out = { heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers),
    nmsSessions: ctx.sessions.size, nmsBroadcasts: ctx.broadcasts.size, handles: process._getActiveHandles().length,
    loopMaxMs: Math.round(globalThis.__eld.max / 1e6), loopP99Ms: Math.round(globalThis.__eld.percentile(99) / 1e6) };
  globalThis.__eld.reset();
  return out;
})()`;

const { server, base, stop } = await startBenchServer({ LADDER: '240:400' });
const url = await newChannel(server, 'bench');
const publisher = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-f', 'flv', url], { stdio: 'ignore' });
try {
  for (let i = 0; i < 300 && !server.live.live()[0]?.ready; i++) await sleep(100);
  const session = server.live.live()[0]!;
  const watches = ['source', '240p'].map((name) => ({ name, watch: watchPlaylist(`${base}/hls/${session.id}/${name}/index.m3u8`) }));
  await sleep(4000);
  const pid = server.ingest.workerPid!;
  const worker = await inspect(pid);
  await worker(`globalThis.__eld = process.getBuiltinModule('perf_hooks').monitorEventLoopDelay({ resolution: 10 }); globalThis.__eld.enable(); 1`);
  const parentLoop = monitorEventLoopDelay({ resolution: 10 });
  parentLoop.enable();
  const report = async (phase: string) => {
    const stats = await worker(STATS);
    const gaps = watches.map((w) => `${w.name} ${w.watch.worstGap().ms}`).join('/');
    console.log(`${phase.padEnd(16)} worker RSS ${(await rssMiB(pid))?.toFixed(1)} MiB ${JSON.stringify(stats)} server loop max ${Math.round(parentLoop.max / 1e6)} ms; worst gap ${gaps} ms`);
    parentLoop.reset();
    for (const w of watches) w.watch.reset();
  };
  await sleep(5000);
  await report('before');
  if (fuzzCases > 0) {
    const cases = fc.sample(rtmpCase('live_' + 'k'.repeat(43)), { seed: arg('seed', 424242), numRuns: fuzzCases });
    const inFlight = new Set<Promise<unknown>>();
    for (const [i, batch] of cases.entries()) {
      while (inFlight.size >= 8) await Promise.race(inFlight);
      const p = Promise.all(batch.map((a) => runScript(server.ingest.port, a.steps, { deadlineMs: 4000, lingerMs: a.lingerMs }))).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if ((i + 1) % Math.ceil(fuzzCases / 4) === 0) await report(`fuzz ${i + 1}/${fuzzCases}`);
    }
    await Promise.all(inFlight);
  }
  for (let wave = 1; wave <= (fuzzCases > 0 ? 0 : waves); wave++) {
    const sockets: Socket[] = [];
    for (let i = 0; i < perWave; i++) {
      const s = connect(server.ingest.port, '127.0.0.1', () => {
        if (i % 2 === 0) s.write(c0c1().subarray(0, 700)); // truncated handshake; odd ones stay idle
      });
      s.on('error', () => {});
      sockets.push(s);
    }
    await sleep(holdMs);
    for (const s of sockets) s.destroy();
    await sleep(500);
    await report(`wave ${wave}/${waves}`);
  }
  for (let s = 0; s < afterS; s += 5) {
    await sleep(5000);
    await report(`after ${s + 5} s`);
  }
  await (worker as unknown as { gc(): Promise<unknown> }).gc();
  await sleep(1000);
  await report('after full GC');
  const req = `process.getBuiltinModule('module').createRequire(process.argv[1])`;
  const count = (worker as unknown as { instances(e: string): Promise<number> }).instances;
  console.log(`live objects in the worker after GC: RtmpSession ${await count(`${req}('node-media-server/src/session/rtmp_session.js')`)}, Rtmp ${await count(`${req}('node-media-server/src/protocol/rtmp.js')`)}, Socket ${await count(`process.getBuiltinModule('net').Socket`)} (the publisher and the packager's pull are 2 sessions)`);
  (worker as unknown as { close(): void }).close();
  await Promise.all(watches.map((w) => w.watch.stop()));
} finally {
  publisher.kill('SIGKILL');
  await stop();
}
process.exit(0);
