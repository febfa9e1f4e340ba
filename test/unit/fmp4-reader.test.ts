import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Fmp4Error, Fmp4Reader, readBoxes } from '../../packager/fmp4-reader.ts';
import type { FragmentEvent, Fmp4Event, InitEvent } from '../../packager/fmp4-reader.ts';
import { buildFfmpegArgs } from '../../packager/ffmpeg-args.ts';

// ---- hand-built boxes ------------------------------------------------------------------------

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const box = (type: string, ...parts: Buffer[]) => {
  const payload = Buffer.concat(parts);
  return Buffer.concat([u32(8 + payload.length), Buffer.from(type, 'latin1'), payload]);
};
const largeBox = (type: string, ...parts: Buffer[]) => {
  const payload = Buffer.concat(parts);
  return Buffer.concat([u32(1), Buffer.from(type, 'latin1'), u64(BigInt(16 + payload.length)), payload]);
};
const full = (type: string, version: number, flags: number, ...parts: Buffer[]) => box(type, u8(version), u24(flags), ...parts);
// ffmpeg writes descriptor lengths in the 4-byte form
const descriptor = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([u8(tag), Buffer.from([0x80, 0x80, 0x80, body.length]), body]);
};

const KEY = 0x02000000; // sample_depends_on = 2
const NON_KEY = 0x01010000; // depends on others, non-sync

const videoTrak = box(
  'trak',
  full('tkhd', 0, 3, u32(0), u32(0), u32(1), Buffer.alloc(68)),
  box(
    'mdia',
    full('mdhd', 0, 0, u32(0), u32(0), u32(90000), u32(0), Buffer.alloc(4)),
    full('hdlr', 0, 0, u32(0), Buffer.from('vide'), Buffer.alloc(13)),
    box('minf', box('stbl', full('stsd', 0, 0, u32(1), box('avc1', Buffer.alloc(78), box('avcC', Buffer.from([1, 0x64, 0x00, 0x1f, 0xff])))))),
  ),
);
const audioTrak = box(
  'trak',
  // version 1: 64-bit times move the track id and timescale
  full('tkhd', 1, 3, u64(0n), u64(0n), u32(2), Buffer.alloc(72)),
  box(
    'mdia',
    full('mdhd', 1, 0, u64(0n), u64(0n), u32(48000), u64(0n), Buffer.alloc(4)),
    full('hdlr', 0, 0, u32(0), Buffer.from('soun'), Buffer.alloc(13)),
    box('minf', box('stbl', full('stsd', 0, 0, u32(1), box(
      'mp4a',
      Buffer.alloc(28),
      // AudioSpecificConfig 0x2b 0x92...: object type 5 (HE-AAC)
      full('esds', 0, 0, descriptor(3, u16(1), u8(0), descriptor(4, u8(0x40), u8(0x15), Buffer.alloc(11), descriptor(5, Buffer.from([0x2b, 0x92]))))),
    )))),
  ),
);
const trex = (track: number, duration: number, flags: number) => full('trex', 0, 0, u32(track), u32(1), u32(duration), u32(0), u32(flags));
const ftyp = box('ftyp', Buffer.from('iso6'), u32(512), Buffer.from('iso6cmfc'));
const moov = box('moov', full('mvhd', 0, 0, Buffer.alloc(96)), videoTrak, audioTrak, box('mvex', trex(1, 3000, NON_KEY), trex(2, 1024, 0)));

function fragment(opts: { seq: number; bmdt: bigint; first?: number; withAudio?: boolean; tfhdDefaults?: boolean; mdat?: Buffer }): Buffer {
  const sizes = [10, 10, 10, 10, 10, 10].map(u32);
  const tfhd = opts.tfhdDefaults === false
    ? full('tfhd', 0, 0x020000, u32(1))
    : full('tfhd', 0, 0x020000 | 0x08 | 0x20, u32(1), u32(3000), u32(NON_KEY));
  const trun = opts.first === undefined
    ? full('trun', 0, 0x01 | 0x200, u32(6), u32(0), ...sizes)
    : full('trun', 0, 0x01 | 0x04 | 0x200, u32(6), u32(0), u32(opts.first), ...sizes);
  const video = box('traf', tfhd, full('tfdt', 1, 0, u64(opts.bmdt)), trun);
  const audio = box(
    'traf',
    full('tfhd', 0, 0x020000, u32(2)),
    full('tfdt', 0, 0, u32(Number(opts.bmdt % 1000n))),
    full('trun', 0, 0x01 | 0x100 | 0x200, u32(3), u32(0), u32(1024), u32(5), u32(1024), u32(5), u32(1000), u32(5)),
  );
  const moof = box('moof', full('mfhd', 0, 0, u32(opts.seq)), video, ...(opts.withAudio === false ? [] : [audio]));
  return Buffer.concat([moof, opts.mdat ?? box('mdat', Buffer.alloc(75, 0xab))]);
}

const pushAll = (reader: Fmp4Reader, data: Buffer, chunkSizes: () => number): Fmp4Event[] => {
  const events: Fmp4Event[] = [];
  for (let at = 0; at < data.length;) {
    const n = chunkSizes();
    events.push(...reader.push(data.subarray(at, at + n)));
    at += n;
  }
  return events;
};

t.test('the init section gives the timescale and the CODECS attribute', async (t) => {
  const [init, ...rest] = new Fmp4Reader().push(Buffer.concat([ftyp, moov]));
  t.equal(rest.length, 0);
  t.equal(init?.type, 'init');
  const ev = init as InitEvent;
  t.ok(ev.data.equals(Buffer.concat([ftyp, moov])), 'init data is ftyp + moov');
  t.equal(ev.timescale, 90000, 'timing comes from the video track');
  t.equal(ev.codec, 'avc1.64001f,mp4a.40.5');
  t.strictSame(ev.tracks, [
    { trackId: 1, kind: 'video', timescale: 90000, codec: 'avc1.64001f' },
    { trackId: 2, kind: 'audio', timescale: 48000, codec: 'mp4a.40.5' },
  ]);
});

t.test('fragments split across chunks come out whole, with the same result at any chunking', async (t) => {
  const styp = box('styp', Buffer.from('msdh'), u32(0), Buffer.from('msdh'));
  const f1 = fragment({ seq: 1, bmdt: 2n ** 33n, first: KEY });
  const f2 = fragment({ seq: 2, bmdt: 2n ** 33n + 18000n });
  const f3 = fragment({ seq: 3, bmdt: 2n ** 33n + 36000n, tfhdDefaults: false });
  const stream = Buffer.concat([ftyp, moov, box('free', Buffer.alloc(3)), styp, f1, f2, f3]);
  const whole = new Fmp4Reader().push(stream);
  const byByte = pushAll(new Fmp4Reader(), stream, () => 1);
  let seed = 7;
  const random = pushAll(new Fmp4Reader(), stream, () => (seed = (seed * 48271) % 2147483647) % 97 + 1);
  t.strictSame(byByte, whole);
  t.strictSame(random, whole);

  const frags = whole.filter((e): e is FragmentEvent => e.type === 'fragment');
  t.equal(frags.length, 3);
  t.ok(frags[0]?.data.equals(Buffer.concat([styp, f1])), 'a styp rides with the fragment it precedes');
  t.ok(frags[1]?.data.equals(f2));
  t.match(frags[0], { baseMediaDecodeTime: 2 ** 33, duration: 18000, sampleCount: 6, independent: true });
  t.match(frags[1], { baseMediaDecodeTime: 2 ** 33 + 18000, duration: 18000, independent: false }, 'tfhd default flags: non-sync');
  t.match(frags[2], { duration: 18000, independent: false }, 'trex defaults when tfhd has none');
  t.strictSame(frags[0]?.tracks[1], { trackId: 2, baseMediaDecodeTime: Number((2n ** 33n) % 1000n), duration: 3048, sampleCount: 3, independent: true });
});

t.test('a fragment that arrives in one chunk is handed out without a copy', async (t) => {
  const reader = new Fmp4Reader();
  reader.push(Buffer.concat([ftyp, moov]));
  const chunk = fragment({ seq: 1, bmdt: 0n, first: KEY });
  const [ev] = reader.push(chunk);
  t.equal(ev?.data.buffer, chunk.buffer);
  t.equal(reader.pendingBytes, 0);
});

t.test('64-bit box sizes are read, even when the header itself is split', async (t) => {
  const mdat = largeBox('mdat', Buffer.alloc(40, 1));
  const frag = fragment({ seq: 1, bmdt: 0n, first: KEY, mdat });
  const reader = new Fmp4Reader();
  reader.push(Buffer.concat([ftyp, moov]));
  const moofSize = frag.length - mdat.length;
  t.strictSame(reader.push(frag.subarray(0, moofSize + 12)), [], 'half a largesize header waits');
  const [ev] = reader.push(frag.subarray(moofSize + 12));
  t.equal(ev?.type, 'fragment');
  t.equal(ev?.data.length, frag.length);
  t.equal(readBoxes(ev?.data ?? Buffer.alloc(0))[1]?.payload.length, 40);
});

t.test('absurd or impossible sizes are refused at the header, not buffered', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['32-bit size above 64 MiB', Buffer.concat([u32(100 * 1024 * 1024), Buffer.from('mdat')])],
    ['64-bit size of 1 TiB', Buffer.concat([u32(1), Buffer.from('mdat'), u64(2n ** 40n)])],
    ['size smaller than its header', Buffer.concat([u32(4), Buffer.from('moof')])],
    ['size 0 (to end of file)', Buffer.concat([u32(0), Buffer.from('mdat')])],
  ];
  for (const [name, header] of cases) {
    const reader = new Fmp4Reader();
    reader.push(Buffer.concat([ftyp, moov]));
    t.throws(() => reader.push(header), Fmp4Error, name);
    t.throws(() => reader.push(Buffer.alloc(8)), Fmp4Error, `${name}: the reader stays failed`);
  }
});

t.test('input that is not fragmented MP4 is refused', async (t) => {
  t.throws(() => new Fmp4Reader().push(Buffer.concat([ftyp, box('mdat', Buffer.alloc(4))])), /mdat without moof/);
  t.throws(() => new Fmp4Reader().push(fragment({ seq: 1, bmdt: 0n })), /moof before moov/);
});

t.test('a moof without the video track keeps the timeline where video ended', async (t) => {
  const reader = new Fmp4Reader();
  reader.push(Buffer.concat([ftyp, moov]));
  reader.push(fragment({ seq: 1, bmdt: 9000n, first: KEY }));
  const audioOnly = box('moof', full('mfhd', 0, 0, u32(2)), box(
    'traf',
    full('tfhd', 0, 0x020000, u32(2)),
    full('tfdt', 0, 0, u32(0)),
    full('trun', 0, 0x01, u32(2), u32(0)),
  ));
  const [ev] = reader.push(Buffer.concat([audioOnly, box('mdat', Buffer.alloc(8))]));
  t.match(ev, { type: 'fragment', baseMediaDecodeTime: 27000, duration: 0, sampleCount: 0, independent: false });
  t.equal((ev as FragmentEvent).tracks[0]?.duration, 2048, 'trex default duration of the audio track');
});

// ---- real ffmpeg -------------------------------------------------------------------------------

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('real ffmpeg: the builder\'s command read back through Fmp4Reader', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'spillway-fmp4-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  // What a publisher sends: H.264 with a keyframe every 2 s, AAC, in FLV.
  const input = path.join(dir, 'publisher.flv');
  const gen = await run('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '3', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-f', 'flv', input,
  ], 30_000);
  t.equal(gen.code, 0, `test input generated ${gen.stderr}`);

  const { args, outputs } = buildFfmpegArgs({
    inputUrl: input,
    inputIsH264Aac: true,
    source: { width: 640, height: 360, fps: 30 },
    ladder: [{ name: '240p', height: 240, videoBitrateKbps: 400, audioBitrateKbps: 64 }],
  });
  t.strictSame(outputs.map((o) => [o.name, o.fd]), [['source', 3], ['240p', 4]]);

  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const results = outputs.map((o) => {
    const reader = new Fmp4Reader();
    const events: Fmp4Event[] = [];
    const raw: Buffer[] = [];
    const pipe = child.stdio[o.fd] as Readable;
    const done = new Promise<void>((resolve, reject) => {
      pipe.on('data', (chunk: Buffer) => {
        raw.push(chunk);
        events.push(...reader.push(chunk));
      });
      pipe.on('end', resolve);
      pipe.on('error', reject);
    });
    return { output: o, events, raw, done };
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await Promise.all(results.map((r) => r.done));
  t.equal(code, 0, `ffmpeg exits cleanly ${stderr}`);

  for (const { output, events, raw } of results) {
    t.test(`rendition ${output.name}`, async (t) => {
      const inits = events.filter((e): e is InitEvent => e.type === 'init');
      const frags = events.filter((e): e is FragmentEvent => e.type === 'fragment');
      t.equal(inits.length, 1, 'one init section');
      const init = inits[0] as InitEvent;
      t.ok(init.timescale > 0);
      t.match(init.codec, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);

      const timed = frags.filter((f) => f.sampleCount > 0);
      const seconds = (n: number) => n / init.timescale;
      const total = seconds(timed.reduce((s, f) => s + f.duration, 0));
      t.ok(Math.abs(total - 3) <= 0.3, `video adds up to ~3 s (${total.toFixed(3)})`);
      for (let i = 1; i < timed.length; i++) {
        const prev = timed[i - 1] as FragmentEvent;
        t.equal((timed[i] as FragmentEvent).baseMediaDecodeTime, prev.baseMediaDecodeTime + prev.duration, 'no gap between fragments');
      }
      const long = timed.slice(0, -1).filter((f) => seconds(f.duration) > 0.25 || seconds(f.duration) < 0.1);
      t.strictSame(long.map((f) => seconds(f.duration)), [], 'fragments come about every 200 ms');

      const start = (timed[0] as FragmentEvent).baseMediaDecodeTime;
      const keyTimes = timed.filter((f) => f.independent).map((f) => seconds(f.baseMediaDecodeTime - start));
      t.ok(timed[0]?.independent, 'the first fragment starts with a keyframe');
      // transcoded: forced every second; passthrough: the publisher's 2 s GOP
      const gop = output.passthrough ? 2 : 1;
      const expected = [0, 1, 2].map((k) => k * gop).filter((s) => s < 2.95);
      t.strictSame(keyTimes.filter((s) => s < 2.95).map((s) => Math.round(s * 100) / 100), expected, `keyframes every ${gop} s`);

      const file = path.join(dir, `${output.name}.mp4`);
      await writeFile(file, Buffer.concat([init.data, ...frags.map((f) => f.data)]));
      const all = Buffer.concat(raw);
      const kept = Buffer.concat([init.data, ...frags.map((f) => f.data)]);
      t.ok(all.subarray(0, kept.length).equals(kept), 'init + fragments are the bytes ffmpeg wrote, in order');
      t.strictSame(readBoxes(all.subarray(kept.length)).map((b) => b.type), ['mfra'], 'only the closing index is left out');
      const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file], 30_000);
      t.equal(probe.code, 0);
      t.equal(probe.stderr, '', 'ffprobe reports no error');
      t.strictSame(probe.stdout.trim().split('\n'), ['h264', 'aac']);

      const again = pushAll(new Fmp4Reader(), Buffer.concat(raw), () => 1 + Math.floor(Math.random() * 5000));
      t.strictSame(again.map(summary), events.map(summary), 'same events whatever the chunking');
    });
  }
});

function summary(e: Fmp4Event): unknown {
  return e.type === 'init' ? [e.type, e.timescale, e.codec, e.data.length] : [e.type, e.baseMediaDecodeTime, e.duration, e.independent, e.data.length];
}
