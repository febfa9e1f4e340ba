// A small RTMP publisher in TypeScript, for what Debian's ffmpeg 5.1 cannot publish: Enhanced
// RTMP (HEVC, AV1, Opus; v2 multitrack) as OBS 30+ sends it. Handshake, connect, createStream,
// publish with the stream key, onMetaData, then the given message bodies at real-time pace (as
// ffmpeg -re would), looped with rising timestamps until stopped or `seconds` have been sent.
import { connect, type Socket } from 'node:net';
import { amf, c0c1, c2, chunks, command, setChunkSize } from './rtmp-fuzz-client.ts';
import { isConfig, type RtmpTag } from './enhanced-tags.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface RtmpPublisherOptions {
  port: number;
  key: string;
  tags: RtmpTag[];
  /** onMetaData fields, e.g. width, height, framerate, videocodecid (a FourCC as a number for Enhanced RTMP) */
  metadata: Record<string, number | string>;
  /** stop after this much media; the tags are looped to fill it */
  seconds: number;
  /** the chunk size it announces and sends in (default 60 000: a message is one chunk) */
  chunkSize?: number;
  /** leave Nagle's algorithm on, as OBS does (default off) */
  nagle?: boolean;
}

export interface RtmpPublisher {
  socket: Socket;
  /** resolves once the server answered NetStream.Publish.Start; rejects on a refusal or close */
  started: Promise<void>;
  /** resolves when the publisher is done (all sent, stopped, or the server closed) */
  done: Promise<void>;
  /** Stop as OBS does: deleteStream, then close. */
  stop(): Promise<void>;
  /** Pull the plug. */
  kill(): void;
}

const CHUNK_SIZE = 60_000;
const STREAM_ID = 1;

export function publishRtmp(t: Teardown, opts: RtmpPublisherOptions): RtmpPublisher {
  const chunkSize = opts.chunkSize ?? CHUNK_SIZE;
  const socket = connect(opts.port, '127.0.0.1');
  socket.setNoDelay(!opts.nagle);
  let received = Buffer.alloc(0);
  let closed = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const waiters: Array<() => void> = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (data: Buffer) => {
    received = Buffer.concat([received, data]);
    poke();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    clearTimeout(timer);
    poke();
  });
  const until = (check: () => boolean, what: string, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`rtmp publisher: timed out waiting for ${what}`)), ms);
      const again = () => {
        if (check()) {
          clearTimeout(deadline);
          resolve();
        } else if (closed) {
          clearTimeout(deadline);
          reject(new Error(`rtmp publisher: connection closed while waiting for ${what}: ${received.toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').slice(-200)}`));
        } else waiters.push(again);
      };
      again();
    });
  const send = (type: number, csid: number, timestamp: number, payload: Buffer, streamId = STREAM_ID) =>
    socket.write(chunks({ csid, type, timestamp: timestamp >>> 0, streamId, payload, chunkSize }));

  const started = (async () => {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(c0c1());
    await until(() => received.length >= 3073, 'S0 S1 S2');
    received = received.subarray(3073);
    socket.write(c2());
    socket.write(setChunkSize(chunkSize));
    const tcUrl = `rtmp://127.0.0.1:${opts.port}/live`;
    send(20, 3, 0, command('connect', 1, amf.obj([['app', amf.str('live')], ['type', amf.str('nonprivate')], ['tcUrl', amf.str(tcUrl)]])), 0);
    send(20, 3, 0, command('createStream', 2, amf.nul()), 0);
    await until(() => received.indexOf('_result') !== received.lastIndexOf('_result'), 'createStream result');
    send(20, 8, 0, command('publish', 3, amf.nul(), amf.str(opts.key), amf.str('live')));
    await until(() => received.includes('NetStream.Publish.Start'), 'NetStream.Publish.Start');
    const meta = Object.entries(opts.metadata).map(([k, v]) => [k, typeof v === 'number' ? amf.num(v) : amf.str(v)] as [string, Buffer]);
    send(18, 4, 0, Buffer.concat([amf.str('@setDataFrame'), amf.str('onMetaData'), amf.ecma(meta)]));
  })();

  const done = started.then(
    () =>
      new Promise<void>((resolve) => {
        // one loop lasts as long as its video: the last frame's timestamp plus one frame interval
        // (the average interval, as timestamps are rounded to the millisecond; multitrack messages of one frame share one)
        const video = [...new Set(opts.tags.filter((tag) => tag.type === 9).map((tag) => tag.timestamp))];
        const last = video.at(-1) ?? opts.tags.at(-1)?.timestamp ?? 0;
        const span = Math.round(last + (video.length > 1 ? (last - video[0]!) / (video.length - 1) : 33));
        const startedAt = Date.now();
        let loop = 0;
        let i = 0;
        socket.once('close', () => resolve());
        const tick = () => {
          if (stopped || closed) return resolve();
          const now = Date.now() - startedAt;
          for (;;) {
            const tag = opts.tags[i];
            if (!tag) {
              loop += 1;
              i = 0;
              continue;
            }
            const at = tag.timestamp + loop * span;
            if (at > opts.seconds * 1000) return void stop().then(resolve);
            if (at > now) break;
            // configurations are sent once, at the start
            if (loop === 0 || !isConfig(tag)) send(tag.type, tag.type === 9 ? 6 : 5, at, tag.data);
            i += 1;
          }
          timer = setTimeout(tick, 5);
        };
        tick();
      }),
    () => undefined,
  );

  const stop = async () => {
    if (stopped || closed) return;
    stopped = true;
    clearTimeout(timer);
    send(20, 3, 0, command('deleteStream', 4, amf.nul(), amf.num(STREAM_ID)), 0);
    socket.end();
  };
  const kill = () => {
    stopped = true;
    clearTimeout(timer);
    socket.destroy();
  };
  t.teardown(kill);
  return { socket, started, done, stop, kill };
}
