// A raw-TCP RTMP client for fuzzing: it writes whatever bytes it is told, valid or not. AMF0 values,
// chunk headers and the handshake are built by small pure encoders that never validate, so a
// caller can announce lengths it does not send, use reserved chunk stream ids, or nest objects
// thousands deep; `runScript` plays a list of steps on one socket with a hard deadline.
import { connect } from 'node:net';

/** AMF0 encoders (type marker + body), each returning the exact bytes; nothing is checked. */
export const amf = {
  num(n: number): Buffer {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(n, 1);
    return b;
  },
  bool(v: boolean): Buffer {
    return Buffer.from([0x01, v ? 1 : 0]);
  },
  /** A short string; `announced` lets the length field lie. */
  str(s: string, announced?: number): Buffer {
    const body = Buffer.from(s, 'utf8');
    const b = Buffer.alloc(3);
    b[0] = 0x02;
    b.writeUInt16BE((announced ?? body.length) & 0xffff, 1);
    return Buffer.concat([b, body]);
  },
  longStr(s: string, announced?: number): Buffer {
    const body = Buffer.from(s, 'utf8');
    const b = Buffer.alloc(5);
    b[0] = 0x0c;
    b.writeUInt32BE((announced ?? body.length) >>> 0, 1);
    return Buffer.concat([b, body]);
  },
  nul(): Buffer {
    return Buffer.from([0x05]);
  },
  undef(): Buffer {
    return Buffer.from([0x06]);
  },
  /** Object from [key, encoded value] pairs, with the end marker unless `unterminated`. */
  obj(entries: Array<[string, Buffer]>, unterminated = false): Buffer {
    return Buffer.concat([Buffer.from([0x03]), props(entries), unterminated ? Buffer.alloc(0) : Buffer.from([0, 0, 0x09])]);
  },
  ecma(entries: Array<[string, Buffer]>, announcedCount = entries.length): Buffer {
    const head = Buffer.alloc(5);
    head[0] = 0x08;
    head.writeUInt32BE(announcedCount >>> 0, 1);
    return Buffer.concat([head, props(entries), Buffer.from([0, 0, 0x09])]);
  },
  strict(items: Buffer[], announcedCount = items.length): Buffer {
    const head = Buffer.alloc(5);
    head[0] = 0x0a;
    head.writeUInt32BE(announcedCount >>> 0, 1);
    return Buffer.concat([head, ...items]);
  },
};

function props(entries: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of entries) {
    const k = Buffer.from(key, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(k.length & 0xffff);
    parts.push(len, k, value);
  }
  return Buffer.concat(parts);
}

/** An AMF0 command message body: name, transaction id, then the arguments as given. */
export function command(name: string, transactionId: number, ...args: Buffer[]): Buffer {
  return Buffer.concat([amf.str(name), amf.num(transactionId), ...args]);
}

/** C0 + C1: the version byte, then time and zero, then 1528 filler bytes (fixed, so a case replays exactly). */
export function c0c1(version = 3): Buffer {
  const c1 = Buffer.alloc(1536);
  for (let i = 8; i < c1.length; i++) c1[i] = (i * 31) & 0xff;
  return Buffer.concat([Buffer.from([version & 0xff]), c1]);
}

/** C2: the server never checks it, so any 1536 bytes do. */
export function c2(): Buffer {
  return Buffer.alloc(1536, 0x2a);
}

export interface ChunkMessage {
  /** 0–3; the first chunk's header format. */
  fmt?: number;
  /** Chunk stream id, 0–65599 (2–63 one byte, 64–319 two bytes, above three bytes). */
  csid: number;
  timestamp?: number;
  type: number;
  streamId?: number;
  payload: Buffer;
  /** The length written in the header; the payload's own length unless it lies. */
  announcedLength?: number;
  /** Payload bytes per chunk (what the server was told with Set Chunk Size). */
  chunkSize?: number;
}

function basicHeader(fmt: number, csid: number): Buffer {
  if (csid >= 64 + 256) {
    const id = csid - 64;
    return Buffer.from([(fmt << 6) | 1, id & 0xff, (id >> 8) & 0xff]);
  }
  if (csid >= 64) return Buffer.from([fmt << 6, csid - 64]);
  return Buffer.from([(fmt << 6) | (csid & 0x3f)]);
}

/** One message split into chunks: a header of format `fmt`, then type-3 continuations. */
export function chunks(m: ChunkMessage): Buffer {
  const fmt = (m.fmt ?? 0) & 3;
  const timestamp = m.timestamp ?? 0;
  const extended = timestamp >= 0xffffff;
  const header = Buffer.alloc([11, 7, 3, 0][fmt]!);
  if (fmt <= 2) header.writeUIntBE(extended ? 0xffffff : timestamp, 0, 3);
  if (fmt <= 1) {
    header.writeUIntBE((m.announcedLength ?? m.payload.length) & 0xffffff, 3, 3);
    header[6] = m.type & 0xff;
  }
  if (fmt === 0) header.writeUInt32LE((m.streamId ?? 0) >>> 0, 7);
  const ext = Buffer.alloc(extended ? 4 : 0);
  if (extended) ext.writeUInt32BE(timestamp >>> 0);
  const size = Math.max(1, m.chunkSize ?? 128);
  const out: Buffer[] = [basicHeader(fmt, m.csid), header, ext];
  for (let at = 0; at < m.payload.length; at += size) {
    if (at > 0) out.push(basicHeader(3, m.csid), ext);
    out.push(m.payload.subarray(at, at + size));
  }
  return Buffer.concat(out);
}

/** Protocol control message 1 (Set Chunk Size) carrying any 32-bit value. */
export function setChunkSize(size: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(size >>> 0);
  return chunks({ csid: 2, type: 1, payload: body });
}

export type Step =
  | { send: Buffer }
  | { pause: number }
  /** Wait (bounded by the script's deadline) until the server has sent this many bytes in all. */
  | { awaitBytes: number }
  /** Half-close: FIN our side, keep reading. */
  | { end: true };

export interface ScriptResult {
  bytesIn: number;
  /** The server closed (FIN or reset) before the script's end. */
  closedByServer: boolean;
  ms: number;
}

/** Plays `steps` on a fresh connection; afterwards lingers `lingerMs`, then destroys the socket. */
export function runScript(port: number, steps: Step[], opts: { deadlineMs: number; lingerMs?: number }): Promise<ScriptResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let bytesIn = 0;
    let closed = false;
    let wake: (() => void) | null = null;
    const finish = () => {
      clearTimeout(deadline);
      socket.destroy();
      resolve({ bytesIn, closedByServer: closed, ms: Date.now() - started });
    };
    const deadline = setTimeout(finish, opts.deadlineMs);
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    socket.on('data', (d) => {
      bytesIn += d.length;
      poke();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      poke();
    });
    const waitFor = (check: () => boolean, ms: number) =>
      new Promise<void>((done) => {
        const timer = setTimeout(done, ms);
        const again = () => {
          if (check() || closed) {
            clearTimeout(timer);
            done();
          } else wake = again;
        };
        again();
      });
    socket.once('connect', async () => {
      for (const step of steps) {
        if (closed || socket.destroyed) break;
        if ('send' in step) socket.write(step.send);
        else if ('pause' in step) await waitFor(() => false, step.pause);
        else if ('awaitBytes' in step) await waitFor(() => bytesIn >= step.awaitBytes, opts.deadlineMs);
        else socket.end();
      }
      if (!closed) await waitFor(() => false, opts.lingerMs ?? 0);
      finish();
    });
  });
}
