// The RTMP ingest with real ffmpeg publishers and pullers over real RTMP on 127.0.0.1, plus raw
// sockets sending what OBS never would (garbage, half handshakes, absurd chunk sizes, and the
// 13-byte commands that crash a bare node-media-server).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { RtmpIngest, type IngestChannel, type PublishEvent, type RtmpIngestOptions, type UnpublishEvent } from '../../ingest/rtmp-ingest.ts';
import { createLogger } from '../../src/log.ts';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const ALICE: IngestChannel = { channelId: 'chan-alice', slug: 'alice' };
const BOB: IngestChannel = { channelId: 'chan-bob', slug: 'bob' };

/** Same shape as the keys the channel service issues. */
function streamKey(): string {
  return `live_${randomBytes(32).toString('base64url')}`;
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

async function startIngest(t: Test, keys: Map<string, IngestChannel>, options: Partial<RtmpIngestOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger('debug', { write: (line: string) => void lines.push(line) });
  const ingest = new RtmpIngest({
    host: '127.0.0.1',
    port: 0,
    log,
    verifyStreamKey: async (key) => keys.get(key) ?? null,
    badKeyDelayMs: 100,
    ...options,
  });
  const published: PublishEvent[] = [];
  const unpublished: UnpublishEvent[] = [];
  ingest.on('publish', (event) => published.push(event));
  ingest.on('unpublish', (event) => unpublished.push(event));
  await ingest.start();
  t.teardown(() => ingest.close());
  return { ingest, published, unpublished, logs: () => lines.join('') };
}

interface Child {
  exited: Promise<number | null>;
  exitCode: () => number | null | undefined;
  stderr: () => string;
  bytes: () => number;
  kill: () => void;
}

function run(t: Test, command: string, args: string[]): Child {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let bytes = 0;
  let code: number | null | undefined;
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  proc.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve((code = c))));
  const kill = () => void (proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'));
  t.teardown(kill);
  return { exited, exitCode: () => code, stderr: () => stderr, bytes: () => bytes, kill };
}

/** `rtmpOptions` are ffmpeg's RTMP output options (`-rtmp_app`, `-rtmp_playpath`, `-rtmp_tcurl`). */
function publish(t: Test, url: string, seconds: number, rtmpOptions: string[] = []): Child {
  return run(t, 'ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-re'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-c:a', 'aac'],
    ...['-t', String(seconds), ...rtmpOptions, '-f', 'flv', url],
  ]);
}

/** A loopback pull, like the packager's, that counts the FLV bytes it receives. */
function pull(t: Test, url: string): Child {
  return run(t, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', url, '-c', 'copy', '-f', 'flv', 'pipe:1']);
}

function probe(t: Test, url: string): Child {
  return run(t, 'ffprobe', ['-v', 'error', '-rw_timeout', '5000000', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', url]);
}

async function keepsReceiving(puller: Child, what: string): Promise<void> {
  const before = puller.bytes();
  await waitFor(() => puller.bytes() > before + 20_000, 5000, what);
}

// --- a raw RTMP client, for what ffmpeg will not send ---------------------------------------

function amf0(...values: unknown[]): Buffer {
  const parts: Buffer[] = [];
  const put = (value: unknown): void => {
    if (typeof value === 'number') {
      const b = Buffer.alloc(9);
      b.writeDoubleBE(value, 1);
      parts.push(b);
    } else if (typeof value === 'string') {
      const s = Buffer.from(value);
      parts.push(Buffer.from([0x02, s.length >> 8, s.length & 0xff]), s);
    } else if (value === null || value === undefined) {
      parts.push(Buffer.from([0x05]));
    } else {
      parts.push(Buffer.from([0x03]));
      for (const [key, v] of Object.entries(value)) {
        const k = Buffer.from(key);
        parts.push(Buffer.from([k.length >> 8, k.length & 0xff]), k);
        put(v);
      }
      parts.push(Buffer.from([0, 0, 9]));
    }
  };
  values.forEach(put);
  return Buffer.concat(parts);
}

/** One RTMP message as type-0 chunk + type-3 continuations of 128 bytes (the default chunk size). */
function message(cid: number, type: number, streamId: number, payload: Buffer, length = payload.length): Buffer {
  const header = Buffer.alloc(12);
  header[0] = cid;
  header.writeUIntBE(length, 4, 3);
  header[7] = type;
  header.writeUInt32LE(streamId, 8);
  const parts: Buffer[] = [header];
  for (let i = 0; i < payload.length; i += 128) {
    if (i > 0) parts.push(Buffer.from([0xc0 | cid]));
    parts.push(payload.subarray(i, i + 128));
  }
  return Buffer.concat(parts);
}

class RawRtmp {
  received: Buffer = Buffer.alloc(0);
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (data: Buffer) => (this.received = Buffer.concat([this.received, data])));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async open(t: Test, port: number): Promise<RawRtmp> {
    const socket = connect(port, '127.0.0.1');
    t.teardown(() => void socket.destroy());
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawRtmp(socket);
  }

  async handshake(): Promise<void> {
    this.socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
    await waitFor(() => this.received.length >= 3073, 5000, 'S0 S1 S2');
    this.received = this.received.subarray(3073);
    this.socket.write(Buffer.alloc(1536));
  }

  command(name: string, transId: number, streamId: number, ...args: unknown[]): void {
    this.socket.write(message(3, 20, streamId, amf0(name, transId, ...args)));
  }

  async connectApp(port: number, app: string): Promise<void> {
    await this.handshake();
    this.command('connect', 1, 0, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}` });
    this.command('createStream', 2, 0, null);
    await waitFor(() => this.received.includes('_result') && this.received.lastIndexOf('_result') > this.received.indexOf('_result'), 5000, 'createStream result');
  }

  async waitClosed(what: string, ms = 5000): Promise<void> {
    await waitFor(() => this.closed, ms, what);
  }
}

// --- tests --------------------------------------------------------------------------------

t.test('a good key publishes; internalUrl carries no key and ffprobe reads it; unpublish on exit; reconnect publishes again', async (t) => {
  const key = streamKey();
  const { ingest, published, unpublished, logs } = await startIngest(t, new Map([[key, ALICE]]));
  const encoder = publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 4);
  await waitFor(() => published.length === 1, 10_000, 'publish event');
  const event = published[0]!;
  t.match(event, { channelId: 'chan-alice', slug: 'alice', remoteAddress: '127.0.0.1' });
  t.match(event.media, { video: { codec: 'h264', codecId: 7, width: 640, height: 360, fps: 30 }, audio: { codec: 'aac' } });
  t.notOk(event.internalUrl.includes(key), 'internalUrl does not contain the stream key');
  t.match(event.internalUrl, /^rtmp:\/\/127\.0\.0\.1:\d+\/internal\/[0-9a-f-]{36}\?token=[\w-]{32}$/);

  const probed = probe(t, event.internalUrl);
  t.equal(await probed.exited, 0, `ffprobe reads the internal URL: ${probed.stderr()}`);
  const workerCmdline = await readFile(`/proc/${ingest.workerPid}/cmdline`, 'utf8');
  t.notOk(workerCmdline.includes(key), 'the worker process list entry has no key');

  t.equal(await encoder.exited, 0, 'ffmpeg published to the end');
  await waitFor(() => unpublished.length === 1, 5000, 'unpublish event');
  t.match(unpublished[0], { channelId: 'chan-alice', publishId: event.publishId, reason: 'unpublished' }, 'ffmpeg ending its input says so with deleteStream');
  t.ok((unpublished[0]?.inBytes ?? 0) > 100_000, 'bytes counted');

  // The encoder reconnects: a normal publish with a new session; continuing the live session is the session manager's call.
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 30);
  await waitFor(() => published.length === 2, 10_000, 'publish after reconnect');
  t.not(published[1]?.publishId, event.publishId);
  t.equal(published[1]?.channelId, 'chan-alice');
  t.notOk(logs().includes(key), 'no log line contains the key');
});

t.test('a bad key and a wrong app are refused before any publish event, slowed down, and never logged', async (t) => {
  const key = streamKey();
  const badKey = streamKey();
  const { ingest, published, logs } = await startIngest(t, new Map([[key, ALICE]]));
  const first = publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${badKey}`, 5);
  t.not(await first.exited, 0, 'ffmpeg with a bad key fails');
  t.match(first.stderr(), /Stream key refused/, 'the encoder is told why');
  const second = publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${badKey}`, 5);
  t.not(await second.exited, 0, 'second bad attempt fails too');
  const wrongApp = publish(t, `rtmp://127.0.0.1:${ingest.port}/other/${key}`, 5);
  t.not(await wrongApp.exited, 0, 'a valid key under another app is refused');
  t.equal(published.length, 0, 'no publish event');

  const refusals = logs()
    .split('\n')
    .filter((line) => line.includes('rtmp publish refused'))
    .map((line) => JSON.parse(line) as { reason: string; delayMs: number; path: string });
  t.same(
    refusals.map((r) => [r.reason, r.delayMs]),
    [['bad-key', 0], ['bad-key', 100], ['bad-app', 200]],
    'each further refusal from the address waits longer',
  );
  t.ok(refusals.every((r) => r.path.endsWith('/[redacted]')));
  t.notOk(logs().includes(badKey), 'the bad key is not logged');
  t.notOk(logs().includes(key), 'the good key is not logged');
});

t.test('the real key is never logged, wherever in the RTMP URL an encoder puts it', async (t) => {
  const key = streamKey();
  const { ingest, published, logs } = await startIngest(t, new Map([[key, ALICE]]));
  const base = `rtmp://127.0.0.1:${ingest.port}`;
  const attempts: Array<[string, string, string[]]> = [
    ['a path with several slashes', `${base}/live/a/b/${key}`, []],
    ['a stream name with a slash', `${base}/live/x`, ['-rtmp_app', 'live', '-rtmp_playpath', `X/${key}`]],
    ['the app', `${base}/${key}/stream`, []],
    ['an app with slashes', `${base}/x`, ['-rtmp_app', `live/a/${key}`, '-rtmp_playpath', 'stream']],
    ['the query string', `${base}/live/stream?key=${key}`, []],
    ['the tcUrl', `${base}/live/stream`, ['-rtmp_tcurl', `${base}/live/${key}`]],
  ];
  for (const [where, url, options] of attempts) {
    const encoder = publish(t, url, 3, options);
    t.not(await encoder.exited, 0, `a key in ${where} is refused`);
  }
  t.equal(published.length, 0, 'none of them published');
  const refusals = logs().split('\n').filter((line) => line.includes('rtmp publish refused'));
  t.equal(refusals.length, attempts.length, 'each attempt logged one refusal');
  // And the accepted publish of the same key, for good measure.
  const good = publish(t, `${base}/live/${key}`, 2);
  await waitFor(() => published.length === 1, 15_000, 'the good publish');
  await good.exited;
  const secret = key.slice('live_'.length);
  t.notOk(logs().includes(secret), 'no log line, at any level, contains the key');
  t.notOk(logs().includes(secret.slice(0, 16)), 'nor a piece of it');
});

t.test('a second publisher for a live channel is refused and the first keeps streaming', async (t) => {
  const key = streamKey();
  const rotated = streamKey(); // two keys for one channel: the old one still held by a running encoder
  const { ingest, published, unpublished } = await startIngest(t, new Map([[key, ALICE], [rotated, ALICE]]));
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'first publish');
  const puller = pull(t, published[0]!.internalUrl);
  await keepsReceiving(puller, 'the pull receiving');

  for (const [label, k] of [['same key', key], ['another key of the channel', rotated]] as const) {
    const second = publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${k}`, 5);
    t.not(await second.exited, 0, `${label}: refused`);
    t.match(second.stderr(), /already live/);
    await keepsReceiving(puller, `${label}: the first publisher still streaming`);
  }
  t.equal(published.length, 1);
  t.equal(unpublished.length, 0);
});

t.test('outside plays are refused; only a loopback pull with the session token plays', async (t) => {
  const key = streamKey();
  const { ingest, published } = await startIngest(t, new Map([[key, ALICE]]));
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'publish');
  const internal = new URL(published[0]!.internalUrl);
  const withoutToken = `rtmp://127.0.0.1:${ingest.port}${internal.pathname}`;
  for (const url of [`rtmp://127.0.0.1:${ingest.port}/live/${key}`, withoutToken, `${withoutToken}?token=${'x'.repeat(32)}`]) {
    const player = probe(t, url);
    t.not(await player.exited, 0, `refused: ${url.replace(key, 'KEY')}`);
  }
  const player = probe(t, published[0]!.internalUrl);
  t.equal(await player.exited, 0, 'the internal URL with its token plays');
});

t.test('malformed RTMP only costs its own connection: the stream stays live and the worker never restarts', async (t) => {
  const key = streamKey();
  const { ingest, published, unpublished, logs } = await startIngest(t, new Map([[key, ALICE]]), { commandTimeoutMs: 1500 });
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'publish');
  const puller = pull(t, published[0]!.internalUrl);
  await keepsReceiving(puller, 'the pull receiving');
  const workerPid = ingest.workerPid;

  const attacks: Array<[string, (c: RawRtmp) => Promise<void> | void]> = [
    ['garbage bytes', (c) => void c.socket.write(deterministicGarbage(20_000))],
    ['a truncated handshake left hanging', (c) => void c.socket.write(Buffer.alloc(700, 3))],
    ['chunk size 0xffffffff', async (c) => setChunkSize(c, 0xffffffff)],
    ['chunk size 0', async (c) => setChunkSize(c, 0)],
    ['a 16 MiB message before any publish', async (c) => {
      await c.handshake();
      c.socket.write(message(3, 20, 0, Buffer.alloc(64), 0xffffff));
    }],
    // These three each kill a bare node-media-server 4.4.3 process.
    ['a truncated AMF number', async (c) => {
      await c.handshake();
      c.socket.write(message(3, 20, 0, Buffer.from([0x00])));
    }],
    ['connect without tcUrl', async (c) => {
      await c.handshake();
      c.command('connect', 1, 0, { app: 'live' });
    }],
    ['publish without a stream name', async (c) => {
      await c.handshake();
      c.command('publish', 1, 1, null);
    }],
  ];
  for (const [label, attack] of attacks) {
    const client = await RawRtmp.open(t, ingest.port);
    await attack(client);
    await client.waitClosed(`${label}: the server drops the connection`);
    t.pass(`${label}: dropped`);
    await keepsReceiving(puller, `${label}: the stream stays live`);
  }
  t.equal(ingest.workerPid, workerPid, 'no worker restart was needed');
  t.equal(unpublished.length, 0, 'the publisher was never disconnected');
  t.match(logs(), /rtmp connection dropped/);

  const probed = probe(t, published[0]!.internalUrl);
  t.equal(await probed.exited, 0, 'the ingest still accepts new connections');
});

t.test('a worker crash ends its publishes and a fresh worker takes new ones', async (t) => {
  const key = streamKey();
  const { ingest, published, unpublished } = await startIngest(t, new Map([[key, ALICE]]));
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'publish');
  const crashed = ingest.workerPid;
  process.kill(crashed!, 'SIGKILL');
  await waitFor(() => unpublished.length === 1, 5000, 'unpublish after the crash');
  t.match(unpublished[0], { channelId: 'chan-alice', reason: 'ingest-crashed', inBytes: null });
  await waitFor(() => ingest.workerPid !== null && ingest.workerPid !== crashed, 10_000, 'a new worker');
  publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 2, 10_000, 'publish to the new worker');
  t.equal(published[1]?.channelId, 'chan-alice', 'the channel was freed by the crash');
});

t.test('kick drops the channel\'s publisher', async (t) => {
  const key = streamKey();
  const { ingest, published, unpublished } = await startIngest(t, new Map([[key, ALICE]]));
  const encoder = publish(t, `rtmp://127.0.0.1:${ingest.port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'publish');
  ingest.kick('chan-nobody');
  ingest.kick('chan-alice');
  await waitFor(() => unpublished.length === 1, 5000, 'unpublish after the kick');
  t.match(unpublished[0], { channelId: 'chan-alice', publishId: published[0]?.publishId, reason: 'kicked' });
  t.not(await encoder.exited, 0, 'the encoder was disconnected');
});

t.test('close() called again (a shutdown that reaches it twice) resolves, and the port no longer takes publishers', async (t) => {
  const key = streamKey();
  const { ingest, published } = await startIngest(t, new Map([[key, ALICE]]));
  const port = ingest.port;
  const encoder = publish(t, `rtmp://127.0.0.1:${port}/live/${key}`, 60);
  await waitFor(() => published.length === 1, 10_000, 'publish');
  const timeout = (what: string) => delay(10_000).then(() => `${what} still waiting after 10 s`);
  t.equal(await Promise.race([ingest.close().then(() => 'closed'), timeout('the first close()')]), 'closed');
  t.equal(await Promise.race([ingest.close().then(() => 'closed'), timeout('the second close()')]), 'closed', 'the second close() resolves too');
  t.not(await encoder.exited, 0, 'the publisher was disconnected');
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
  t.ok(refused, 'a new connection is refused');
});

t.test('Enhanced RTMP HEVC and AV1 are reported in the publish event', async (t) => {
  const keys = new Map([[streamKey(), ALICE], [streamKey(), BOB]]);
  const { ingest, published, unpublished } = await startIngest(t, keys);
  const fourccs = ['hvc1', 'av01'];
  for (const [index, key] of [...keys.keys()].entries()) {
    const fourcc = fourccs[index]!;
    const client = await RawRtmp.open(t, ingest.port);
    await client.connectApp(ingest.port, 'live');
    client.command('publish', 3, 1, null, key, 'live');
    await waitFor(() => client.received.includes('NetStream.Publish.Start'), 5000, 'publish accepted');
    const codecId = Buffer.from(fourcc).readUInt32BE();
    const metadata = amf0('@setDataFrame', 'onMetaData', { videocodecid: codecId, width: 1920, height: 1080, framerate: 60 });
    client.socket.write(message(4, 18, 1, metadata));
    // Ex-header (0x80), keyframe (1 << 4), packet type 0 = sequence start, then the FourCC and a dummy config.
    client.socket.write(message(6, 9, 1, Buffer.concat([Buffer.from([0x90]), Buffer.from(fourcc), Buffer.alloc(23, 1)])));
    client.socket.write(message(6, 9, 1, Buffer.concat([Buffer.from([0x91]), Buffer.from(fourcc), Buffer.alloc(3), Buffer.alloc(200, 2)])));
    await waitFor(() => published.length === index + 1, 5000, `${fourcc} publish event`);
    t.match(published[index]?.media, {
      video: { codec: fourcc === 'hvc1' ? 'hevc' : 'av1', codecId: fourcc, enhanced: true, width: 1920, height: 1080, fps: 60 },
      audio: null,
    });
    client.socket.destroy();
    await waitFor(() => unpublished.length === index + 1, 5000, `${fourcc} unpublish`);
  }
});

async function setChunkSize(client: RawRtmp, size: number): Promise<void> {
  await client.handshake();
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(size);
  client.socket.write(message(2, 1, 0, payload));
  client.command('connect', 1, 0, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' });
}

/** Reproducible noise: the same bytes on every run. */
function deterministicGarbage(size: number): Buffer {
  const blocks: Buffer[] = [];
  let block = createHash('sha256').update('spillway').digest();
  for (let n = 0; n < size; n += block.length) {
    blocks.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return Buffer.concat(blocks).subarray(0, size);
}
