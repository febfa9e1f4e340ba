// The audio/video messages of accepted publishes, from the RTMP worker to the parent, on a pipe of
// their own beside the IPC channel: binary frames, no serialisation, and the pipe's backlog is the
// backpressure signal. Frame: u32 length of what follows, u32 connId, u8 message type (8 audio,
// 9 video, 18 data), u32 timestamp (ms), then the FLV tag body as the publisher sent it.
//
// Drop policy for a consumer that cannot keep up: once the backlog passes HIGH_WATER a connection
// drops its coded frames (never decoder configurations or metadata) until the backlog is under
// LOW_WATER and a video keyframe arrives, so what does get through always decodes. Past
// HARD_LIMIT every frame is dropped. A slow parent costs picture, never the worker's memory.
//
// Frames are gathered for up to FLUSH_MS (or FLUSH_BYTES) and go out in one writev: every write
// wakes the parent's event loop, and at one write per turn of the worker's loop (one socket read,
// often one RTMP message) those wake-ups were the largest part of the hop's cost. 10 ms is under a
// frame's duration at 60 fps, and a tenth of the default 100 ms part.
import type { Writable } from 'node:stream';

const HEADER = 13;
export const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 2 * 1024 * 1024;
const HARD_LIMIT = 32 * 1024 * 1024;
const FLUSH_MS = 10;
const FLUSH_BYTES = 256 * 1024;
/** A tag body larger than this is not media any encoder sends (NMS caps nothing). */
export const MAX_TAG_BYTES = 16 * 1024 * 1024;

export type TagKind = 'config' | 'keyframe' | 'frame';

/** Classifies a tag from its first bytes (legacy FLV and Enhanced RTMP, single or multitrack). */
export function classifyTag(type: number, body: Buffer): TagKind {
  const b0 = body[0] ?? 0;
  const b1 = body[1] ?? 0;
  if (type === 9) {
    const enhanced = (b0 & 0x80) !== 0;
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    if (!enhanced) return b1 === 0 ? 'config' : frameType === 1 ? 'keyframe' : 'frame';
    if (packetType === 0 || (packetType === 6 && (b1 & 0x0f) === 0)) return 'config';
    return frameType === 1 ? 'keyframe' : 'frame';
  }
  if (type === 8) {
    const format = b0 >> 4;
    if (format === 10) return b1 === 0 ? 'config' : 'frame';
    if (format === 9) return (b0 & 0x0f) === 0 || ((b0 & 0x0f) === 5 && (b1 & 0x0f) === 0) ? 'config' : 'frame';
    return 'frame';
  }
  return 'config';
}

export class MediaPipeWriter {
  private readonly dropping = new Set<number>();
  /** tags dropped per connection, reported when it closes */
  readonly dropped = new Map<number, number>();

  /** `flushMs`: how long frames may wait to share a write; 0 sends them at the end of the turn. */
  constructor(
    private readonly out: Writable,
    private readonly flushMs = FLUSH_MS,
  ) {}

  write(connId: number, type: number, timestamp: number, body: Buffer): void {
    const backlog = this.out.writableLength;
    const kind = classifyTag(type, body);
    if (kind !== 'config') {
      if (backlog > HIGH_WATER) this.dropping.add(connId);
      else if (this.dropping.has(connId) && backlog < LOW_WATER && (kind === 'keyframe' || type === 8 && !this.hasVideo.has(connId))) this.dropping.delete(connId);
      if (this.dropping.has(connId) || backlog > HARD_LIMIT) {
        this.dropped.set(connId, (this.dropped.get(connId) ?? 0) + 1);
        return;
      }
    }
    if (type === 9) this.hasVideo.add(connId);
    // One buffer per frame: NMS reuses its message buffer, so the body is copied anyway.
    const frame = Buffer.allocUnsafe(HEADER + body.length);
    frame.writeUInt32BE(HEADER - 4 + body.length, 0);
    frame.writeUInt32BE(connId, 4);
    frame[8] = type;
    frame.writeUInt32BE(timestamp >>> 0, 9);
    body.copy(frame, HEADER);
    if (!this.corked) {
      this.corked = true;
      this.corkedBytes = 0;
      this.out.cork();
      if (this.flushMs > 0) this.flushTimer = setTimeout(() => this.flush(), this.flushMs);
      else process.nextTick(() => this.flush());
    }
    this.out.write(frame);
    this.corkedBytes += frame.length;
    if (this.corkedBytes >= FLUSH_BYTES) this.flush();
  }

  /** Writes what is gathered now (a connection's last frames go before the news that it closed). */
  flush(): void {
    if (!this.corked) return;
    clearTimeout(this.flushTimer);
    this.corked = false;
    this.out.uncork();
  }

  private corked = false;
  private corkedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  forget(connId: number): void {
    this.dropping.delete(connId);
    this.dropped.delete(connId);
    this.hasVideo.delete(connId);
  }

  private readonly hasVideo = new Set<number>();
}

export interface PipedTag {
  connId: number;
  type: number;
  timestamp: number;
  data: Buffer;
}

/** The parent's side: whole frames out of the byte stream, in order. */
export class MediaPipeReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer, onTag: (tag: PipedTag) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length < HEADER - 4 || length > MAX_TAG_BYTES + HEADER) throw new Error(`media pipe frame of ${length} bytes`);
      if (this.buffered < 4 + length) return;
      const frame = this.take(4 + length);
      onTag({ connId: frame.readUInt32BE(4), type: frame[8]!, timestamp: frame.readUInt32BE(9), data: frame.subarray(HEADER) });
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    return first.length >= n ? first : this.take(n, false);
  }

  /** The first n bytes: a view when one chunk holds them, else one copy of just those bytes. */
  private take(n: number, consume = true): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (consume) {
        if (first.length === n) this.chunks.shift();
        else this.chunks[0] = first.subarray(n);
        this.buffered -= n;
      }
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.chunks[i]!;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (!consume) i += 1;
      else if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    if (consume) this.buffered -= n;
    return out;
  }
}
