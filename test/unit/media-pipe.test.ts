// The media pipe from the RTMP worker to the server: every tag arrives whole, in order and as sent,
// however the writes were batched; a consumer that stops reading costs picture, never decodability.
import { Writable } from 'node:stream';
import t from 'tap';
import { HIGH_WATER, MediaPipeReader, MediaPipeWriter, type PipedTag } from '../../ingest/media-pipe.ts';

/** A pipe end that keeps what is written and acknowledges it only when told to. */
class HeldPipe extends Writable {
  readonly bytes: Buffer[] = [];
  private held: Array<() => void> = [];
  writevCalls = 0;

  constructor(private reading = false) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    this.writevCalls += 1;
    for (const { chunk } of chunks) this.bytes.push(chunk);
    if (this.reading) done();
    else this.held.push(done);
  }

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this._writev([{ chunk }], done);
  }

  /** The consumer reads again, everything from here on. */
  release(): void {
    this.reading = true;
    for (const done of this.held.splice(0)) done();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
// The gathering tests use an interval far longer than the 10 ms default, so that a loaded machine
// pausing between a write and the next tick cannot fire the timer early.
const GATHER_MS = 200;
const afterInterval = () => new Promise((resolve) => setTimeout(resolve, GATHER_MS + 5));
const avc = (kind: 'config' | 'keyframe' | 'frame', size: number, fill = 0) => {
  const body = Buffer.alloc(size, fill);
  body[0] = kind === 'frame' ? 0x27 : 0x17;
  body[1] = kind === 'config' ? 0 : 1;
  return body;
};

function read(pipe: HeldPipe): PipedTag[] {
  const tags: PipedTag[] = [];
  const reader = new MediaPipeReader();
  // Fed in awkward pieces, as a pipe may hand them over.
  const all = Buffer.concat(pipe.bytes);
  for (let at = 0; at < all.length; at += 777) reader.push(all.subarray(at, at + 777), (tag) => tags.push({ ...tag, data: Buffer.from(tag.data) }));
  return tags;
}

t.test('tags written in one turn arrive whole and in order, in one write to the pipe', async (t) => {
  const pipe = new HeldPipe(true);
  const writer = new MediaPipeWriter(pipe, GATHER_MS);
  // NMS reuses one buffer for every message: what was sent must not change with it.
  const reused = Buffer.alloc(3000);
  const sent: Array<{ connId: number; type: number; timestamp: number; data: Buffer }> = [];
  for (let i = 0; i < 40; i++) {
    const body = reused.subarray(0, 100 + i * 50).fill(i);
    body[0] = i % 2 ? 0xaf : 0x27;
    body[1] = 1;
    const tag = { connId: 1 + (i % 3), type: i % 2 ? 8 : 9, timestamp: 1000 + i * 33 };
    writer.write(tag.connId, tag.type, tag.timestamp, body);
    sent.push({ ...tag, data: Buffer.from(body) });
  }
  await tick();
  t.equal(pipe.writevCalls, 0, 'nothing is written before the flush interval');
  await afterInterval();
  t.equal(pipe.writevCalls, 1, 'forty tags within the flush interval: one writev');
  t.same(read(pipe).map((tag) => ({ ...tag })), sent, 'every tag, byte for byte, in order');
});

t.test('tags spread over several turns share a write; a large batch and flush() go at once', async (t) => {
  const pipe = new HeldPipe(true);
  const writer = new MediaPipeWriter(pipe, GATHER_MS);
  writer.write(1, 9, 0, avc('config', 40));
  await tick();
  writer.write(1, 9, 0, avc('keyframe', 5000, 1));
  await tick();
  t.equal(pipe.writevCalls, 0, 'two turns: still gathering');
  writer.flush();
  t.equal(pipe.writevCalls, 1, 'flush() writes what was gathered');
  t.same(read(pipe).map((tag) => tag.data.length), [40, 5000]);

  // A burst (a big keyframe) does not wait for the timer: a quarter of a MiB goes out at once.
  writer.write(1, 9, 33, avc('keyframe', 300 * 1024, 2));
  t.equal(pipe.writevCalls, 2, 'a batch of 256 KiB or more is written at once');
  await afterInterval();
  t.equal(pipe.writevCalls, 2, 'and its timer writes nothing more');
  t.equal(read(pipe).length, 3);
});

t.test('a consumer that stops reading: frames are dropped, decoder configurations never, and it resumes at a keyframe', async (t) => {
  const pipe = new HeldPipe();
  // Written at the end of each turn, so a tick shows the pipe's state (the interval is tested above).
  const writer = new MediaPipeWriter(pipe, 0);
  writer.write(1, 9, 0, avc('config', 40));
  writer.write(1, 9, 0, avc('keyframe', 1 << 20, 1));
  // Past HIGH_WATER of unread bytes, coded frames stop going in.
  for (let i = 1; pipe.writableLength <= HIGH_WATER; i++) {
    writer.write(1, 9, i * 33, avc('frame', 1 << 20, 2));
    await tick();
  }
  const before = pipe.writableLength;
  writer.write(1, 9, 9000, avc('frame', 1000, 3));
  writer.write(1, 9, 9033, avc('config', 40, 4));
  await tick();
  t.equal(pipe.writableLength, before + 40 + 13, 'the frame is dropped, the new configuration is not');
  t.equal(writer.dropped.get(1), 1);

  // The consumer catches up: a frame still waits for the next keyframe.
  pipe.release();
  while (pipe.writableLength > 0) await tick();
  writer.write(1, 9, 9066, avc('frame', 1000, 5));
  writer.write(1, 9, 9100, avc('keyframe', 1000, 6));
  writer.write(1, 9, 9133, avc('frame', 1000, 7));
  await tick();
  const tags = read(pipe);
  t.same(tags.slice(-3).map((tag) => [tag.timestamp, tag.data[2]]), [[9033, 4], [9100, 6], [9133, 7]], 'after the configuration: the keyframe and what follows it');
  t.equal(writer.dropped.get(1), 2, 'the frame before the keyframe was dropped too');
});
