// One RTMP connection inside the worker: a node-media-server RtmpSession with its callbacks
// re-wired so that nothing is published or played before Spillway says so.
//
// Keyless internal path: NMS would register a publisher's broadcast under `/live/<stream key>`
// (RtmpSession.onConnect) and let anyone play that path. We never call onConnect: the publish
// command only records the request and pauses the socket while the parent checks the key. When
// the key is accepted the session is renamed to `/internal/<publishId>` and its own fresh
// BroadcastServer is registered under that name before NMS's postPublish runs, so the key never
// becomes a stream path, a URL or a log line. `play` is honoured only for `/internal/<publishId>`
// with that session's random token, from loopback (or this host's own address).
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { redactStreamPath } from '../src/log.ts';
import type { LogFields, LogLevel, UnpublishReason, WorkerMessage, WorkerOptions } from './ipc-protocol.ts';
import { INTERNAL_APP, scrubSecrets } from './ipc-protocol.ts';
import { MediaInfoCollector } from './media-info.ts';
import { MAX_TAG_BYTES, type MediaPipeWriter } from './media-pipe.ts';
import { TimerSet } from './timer-set.ts';
import type { NmsAvPacket, NmsBroadcast, NmsModules, NmsRtmpSession, NmsStreamRequest } from './nms-types.ts';

// Before a publish is accepted every message is small (connect/createStream/publish are < 1 KiB);
// NMS allocates a buffer of the announced length up front, so cap it.
const MAX_CONTROL_MESSAGE = 64 * 1024;
// NMS keeps each chunk stream's buffer for the life of the connection: before a publish is
// accepted their sum is capped too, or 30 twelve-byte headers would hold 2 MiB until the timeout.
const MAX_BUFFERED_BEFORE_PUBLISH = 128 * 1024;
const MAX_CHUNK_STREAMS = 32;
const MAX_CHUNK_SIZE = 0x7fffffff; // RTMP: 31 bits; 0 would stall NMS's parser on NaN

export interface LiveStream {
  publishId: string;
  token: string;
  broadcast: NmsBroadcast;
}

export interface RtmpConnectionDeps {
  nms: NmsModules;
  /** Accepted publishes in this worker by session id, shared by all connections. */
  live: Map<string, LiveStream>;
  options: WorkerOptions;
  /** where the accepted publish's audio/video messages go (the parent's packager) */
  media: MediaPipeWriter;
  send(message: WorkerMessage): void;
  log(level: LogLevel, msg: string, fields: LogFields): void;
}

class ProtocolError extends Error {
  override name = 'ProtocolError';
}

type State = 'idle' | 'verifying' | 'publishing' | 'playing' | 'closing';

export class RtmpConnection {
  private state: State = 'idle';
  private request: NmsStreamRequest | null = null;
  private publishRequested = false;
  private closeReason: UnpublishReason = 'publisher-disconnected';
  private live: LiveStream | null = null;
  private media: MediaInfoCollector | null = null;
  private readonly timers = new TimerSet();
  private readonly session: NmsRtmpSession;
  private readonly respondPublish: () => void;
  private readonly respondPlay: () => void;

  constructor(
    readonly connId: number,
    private readonly socket: Socket,
    private readonly deps: RtmpConnectionDeps,
  ) {
    const session = new deps.nms.RtmpSession(socket);
    this.session = session;
    // run() subscribes session.onData to the socket, so the guarded parser must be in place first.
    const parse = session.onData;
    session.onData = (data) => this.onData(parse, data);
    session.run();

    const rtmp = session.rtmp;
    this.respondPublish = rtmp.respondPublish.bind(rtmp);
    this.respondPlay = rtmp.respondPlay.bind(rtmp);
    // NMS answers publish/play before its callbacks run; answer only once we have decided.
    rtmp.respondPublish = () => {};
    rtmp.respondPlay = () => {};
    rtmp.onConnectCallback = (req) => {
      this.request = req;
    };
    rtmp.onPushCallback = () => this.onPublishCommand();
    rtmp.onPlayCallback = () => this.onPlayCommand();
    rtmp.onPacketCallback = (packet) => this.onPacket(packet);
    rtmp.onDeleteStream = () => this.onDeleteStream();
    const alloc = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      this.checkMessage();
      alloc();
    };

    this.timers.after(deps.options.commandTimeoutMs, () => {
      if (this.state === 'idle') this.fail(new ProtocolError('no publish or play in time'), 'idle-timeout');
    });
    socket.on('timeout', () => this.fail(new ProtocolError('publisher sent nothing'), 'idle-timeout'));
    socket.on('close', () => this.onClose());
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  accept(publishId: string, token: string): void {
    if (this.state !== 'verifying') return;
    const { nms } = this.deps;
    const streamPath = `/${INTERNAL_APP}/${publishId}`;
    const broadcast = new nms.BroadcastServer(streamPath);
    // NMS 4.4 holds a dropped publisher's slot for 30 s and hands it to a new publish of the same
    // path from the same address. Paths here are never reused, and a reconnect is a new publish
    // that passes the key check; the session manager decides whether it continues the session.
    broadcast.publishGraceMs = 0;
    Object.assign(this.session, { streamApp: INTERNAL_APP, streamName: publishId, streamPath, streamQuery: {}, broadcast });
    nms.Context.broadcasts.set(streamPath, broadcast);
    this.live = { publishId, token, broadcast };
    this.deps.live.set(publishId, this.live);
    this.state = 'publishing';
    this.session.onPush();
    if (!this.session.isPublisher) return this.fail(new ProtocolError('NMS refused the internal publish'), 'protocol-error');
    this.respondPublish();
    this.media = new MediaInfoCollector();
    this.timers.after(this.deps.options.mediaInfoTimeoutMs, () => this.announce());
    this.socket.setTimeout(this.deps.options.publisherIdleMs);
    this.socket.resume();
  }

  refuse(description: string, code = 'NetStream.Publish.Denied'): void {
    if (this.state !== 'verifying' && this.state !== 'idle') return;
    this.state = 'closing';
    this.session.rtmp.sendStatusMessage(this.session.rtmp.streamId, 'error', code, description);
    this.end();
  }

  destroy(reason: UnpublishReason): void {
    this.closeReason = reason;
    this.socket.destroy();
  }

  private onData(parse: (data: Buffer) => void, data: Buffer): void {
    try {
      parse(data);
      const chunkSize = this.session.rtmp.inChunkSize;
      if (!(chunkSize >= 1 && chunkSize <= MAX_CHUNK_SIZE)) throw new ProtocolError(`chunk size ${chunkSize}`);
    } catch (err) {
      // NMS throws on malformed AMF, a connect without tcUrl, a publish without a name…: that is
      // this client's problem only.
      this.fail(err, 'protocol-error');
    }
  }

  private checkMessage(): void {
    const { header } = this.session.rtmp.parserPacket;
    const media = header.type === 8 || header.type === 9;
    if (header.length > MAX_CONTROL_MESSAGE && !(media && this.state === 'publishing')) {
      throw new ProtocolError(`message of ${header.length} bytes (type ${header.type}) in state ${this.state}`);
    }
    const { inPackets, parserPacket } = this.session.rtmp;
    if (inPackets.size > MAX_CHUNK_STREAMS) throw new ProtocolError('too many chunk streams');
    if (this.state !== 'publishing' && parserPacket.capacity < header.length) {
      let held = header.length + 1024; // what packetAlloc is about to allocate
      for (const packet of inPackets.values()) if (packet !== parserPacket) held += packet.capacity;
      if (held > MAX_BUFFERED_BEFORE_PUBLISH) throw new ProtocolError(`${held} bytes of messages buffered before publish`);
    }
  }

  private onPublishCommand(): void {
    if (this.state !== 'idle') throw new ProtocolError(`publish in state ${this.state}`);
    this.state = 'verifying';
    this.publishRequested = true;
    this.socket.pause();
    const app = typeof this.request?.app === 'string' ? this.request.app : '';
    const streamName = typeof this.request?.name === 'string' ? this.request.name : '';
    this.deps.send({ t: 'publish-request', connId: this.connId, remoteAddress: this.remoteAddress, app, streamName });
  }

  private onPlayCommand(): void {
    if (this.state !== 'idle') throw new ProtocolError(`play in state ${this.state}`);
    const app = typeof this.request?.app === 'string' ? this.request.app : '';
    const name = typeof this.request?.name === 'string' ? this.request.name : '';
    const token = this.request?.query.token;
    const live = app === INTERNAL_APP ? this.deps.live.get(name) : undefined;
    if (!live || !isSameHost(this.socket) || typeof token !== 'string' || !sameSecret(token, live.token)) {
      this.deps.log('warn', 'rtmp play refused', {
        connId: this.connId,
        remoteAddress: this.remoteAddress,
        path: redactStreamPath(`/${app === INTERNAL_APP || app === 'live' ? app : 'other'}/${name}`),
      });
      return this.refuse('Stream not found', 'NetStream.Play.StreamNotFound');
    }
    this.state = 'playing';
    Object.assign(this.session, {
      streamApp: INTERNAL_APP,
      streamName: live.publishId,
      streamPath: live.broadcast.streamPath,
      streamQuery: {},
      broadcast: live.broadcast,
    });
    this.timers.clear();
    this.respondPlay();
    this.session.onPlay();
  }

  /** A deliberate stop: the session manager ends the live session at once instead of waiting for a reconnect. */
  private onDeleteStream(): void {
    if (this.state !== 'publishing') return;
    this.closeReason = 'unpublished';
    this.end();
  }

  private onPacket(packet: NmsAvPacket): void {
    // Tags a client sends before its publish is accepted go nowhere.
    if (this.state !== 'publishing') return;
    this.media?.observe(packet);
    if (packet.codec_type === 8 || packet.codec_type === 9) {
      if (packet.size > MAX_TAG_BYTES) throw new ProtocolError(`media message of ${packet.size} bytes`);
      this.deps.media.write(this.connId, packet.codec_type, packet.dts, packet.data.subarray(0, packet.size));
    }
    // NMS's own broadcast (the loopback play path, kept for diagnostics) repackages every message
    // and caches a GOP twice: only its headers and metadata are kept up to date unless someone plays.
    const header = packet.codec_type === 18 || packet.flags === 0 || packet.flags === 2;
    if (header || this.live!.broadcast.subscribers.size > 0) this.session.onPacket(packet);
    if (this.media?.complete(this.session)) this.announce();
  }

  private announce(): void {
    if (!this.media || this.state !== 'publishing') return;
    const media = this.media.snapshot(this.session);
    this.media = null;
    this.deps.send({ t: 'publish-started', connId: this.connId, media });
  }

  private fail(err: unknown, reason: UnpublishReason): void {
    if (this.socket.destroyed) return;
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.deps.log(err instanceof ProtocolError ? 'info' : 'warn', 'rtmp connection dropped', {
      connId: this.connId,
      remoteAddress: this.remoteAddress,
      state: this.state,
      error: scrubSecrets(message).slice(0, 300),
    });
    this.destroy(reason);
  }

  private end(): void {
    // A paused socket never sees the client's FIN; and a client that never closes is cut off.
    this.socket.resume();
    this.socket.end();
    this.timers.after(2000, () => this.socket.destroy());
  }

  private onClose(): void {
    this.timers.clear();
    const dropped = this.deps.media.dropped.get(this.connId);
    if (dropped) this.deps.log('warn', 'media dropped for a slow packager', { connId: this.connId, tags: dropped });
    this.deps.media.forget(this.connId);
    this.deps.media.flush();
    if (this.live) {
      this.deps.live.delete(this.live.publishId);
      // Players would otherwise wait for a publisher that is never coming back: end the pull now.
      for (const player of this.live.broadcast.subscribers.values()) player.close();
    }
    if (this.publishRequested) {
      this.deps.send({ t: 'connection-closed', connId: this.connId, reason: this.closeReason, inBytes: this.session.inBytes });
    }
    this.state = 'closing';
  }

}

function isSameHost(socket: Socket): boolean {
  const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const local = (socket.localAddress ?? '').replace(/^::ffff:/, '');
  return remote === '::1' || remote.startsWith('127.') || (remote !== '' && remote === local);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
