// The RTMP ingest: OBS publishes to rtmp://HOST:PORT/live/<stream key>. This process owns the
// listener and every decision (app, key, one publisher per channel, slowing down bad keys); a
// supervised child (rtmp-worker.ts) runs node-media-server on the accepted sockets, because NMS
// can be crashed by one malformed packet. Accepted sockets are handed to the worker over IPC
// (pauseOnConnect, so no byte is read here), which keeps the port stable across worker restarts.
//
// The packager pulls a publish from `internalUrl` = rtmp://127.0.0.1:PORT/internal/<publishId>
// ?token=<random>: no stream key in any URL or argv (see rtmp-connection.ts for how).
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { redactStreamPath, type Logger } from '../src/log.ts';
import { INTERNAL_APP, type RefusalReason, type UnpublishReason, type WorkerMessage } from './ipc-protocol.ts';
import type { MediaInfo } from './media-info.ts';
import { PublishTags } from './publish-tags.ts';
import { RefusalThrottle } from './refusal-throttle.ts';
import { TimerSet } from './timer-set.ts';
import { WorkerSupervisor } from './worker-supervisor.ts';

export type { MediaInfo, VideoInfo, AudioInfo, VideoCodec, AudioCodec } from './media-info.ts';
export type { UnpublishReason } from './ipc-protocol.ts';
export type { FlvTag, PublishTags } from './publish-tags.ts';

export interface IngestChannel {
  channelId: string;
  slug: string;
}

export interface RtmpIngestOptions {
  host: string;
  port: number;
  verifyStreamKey: (key: string) => Promise<IngestChannel | null>;
  /** After the key is accepted: a reason to refuse this channel now (its storage limit, live on another node, its owner suspended or unverified), or null. */
  admit?: (channel: IngestChannel) => Promise<'storage-quota' | 'already-live' | 'suspended' | 'unverified' | null>;
  log: Logger;
  /** Second bad attempt from an address waits this long, each further one twice as long (≤ 5 s). */
  badKeyDelayMs?: number;
  /** A publisher silent this long is dropped, freeing its channel for the encoder's reconnect. */
  publisherIdleMs?: number;
  /** A connection that has not sent publish or play by then (a stalled handshake) is dropped. */
  commandTimeoutMs?: number;
}

export interface PublishEvent extends IngestChannel {
  publishId: string;
  remoteAddress: string;
  /** Loopback RTMP URL for the packager's pull; carries a per-session token, never the key. */
  internalUrl: string;
  startedAt: Date;
  media: MediaInfo;
  /** The publish's audio/video messages as the encoder sent them, from its decoder configurations on. */
  tags: PublishTags;
}

export interface UnpublishEvent extends IngestChannel {
  publishId: string;
  reason: UnpublishReason;
  remoteAddress: string;
  startedAt: Date;
  endedAt: Date;
  /** Null when the worker died and took the count with it. */
  inBytes: number | null;
}

interface IngestEvents {
  publish: [PublishEvent];
  unpublish: [UnpublishEvent];
}

interface PublishAttempt {
  connId: number;
  remoteAddress: string;
  channel?: IngestChannel;
  publishId?: string;
  token?: string;
  startedAt?: Date;
  tags?: PublishTags;
  announced: boolean;
}

const VERIFY_TIMEOUT_MS = 10_000;

export class RtmpIngest extends EventEmitter<IngestEvents> {
  private readonly server: Server;
  private readonly worker: WorkerSupervisor;
  private readonly throttle: RefusalThrottle;
  private readonly attempts = new Map<number, PublishAttempt>();
  /** channelId → connId of its accepted publisher: one per channel, whatever key or path. */
  private readonly channelOwners = new Map<string, number>();
  private readonly timers = new TimerSet();
  private readonly log: Logger;
  private nextConnId = 1;
  private closing = false;
  private closed: Promise<void> | null = null;

  constructor(private readonly options: RtmpIngestOptions) {
    super();
    this.log = options.log.child({ mod: 'ingest' });
    this.throttle = new RefusalThrottle({ baseMs: options.badKeyDelayMs ?? 250, maxMs: 5000, ttlMs: 15 * 60_000, maxEntries: 10_000 });
    this.worker = new WorkerSupervisor({
      workerOptions: {
        commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
        publisherIdleMs: options.publisherIdleMs ?? 10_000,
        mediaInfoTimeoutMs: 3000,
      },
      log: options.log.child({ mod: 'rtmp-worker' }),
      onMessage: (message) => this.onWorkerMessage(message),
      onMedia: (tag) => this.attempts.get(tag.connId)?.tags?.push(tag),
      onExit: (expected) => {
        for (const attempt of [...this.attempts.values()]) this.ended(attempt, expected ? 'ingest-closed' : 'ingest-crashed', null);
      },
    });
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Publishers accepted and connected now (one per channel). */
  get publisherCount(): number {
    return this.channelOwners.size;
  }

  /** The process running node-media-server right now (null while it restarts). */
  get workerPid(): number | null {
    return this.worker.pid;
  }

  async start(): Promise<void> {
    await this.worker.start();
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await this.worker.close();
      throw err;
    }
    this.server.on('error', (err) => this.log.error({ err }, 'rtmp listener error'));
    this.log.info({ host: this.options.host, port: this.port }, 'rtmp ingest listening');
  }

  /**
   * Stops listening and ends the worker with its connections. A second call waits for the first:
   * a second server.close() would wait for a 'close' event that has already gone.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.worker.close();
    await closed;
  }

  /** Drops the channel's publisher, if any; its unpublish follows with reason 'kicked'. */
  kick(channelId: string): void {
    const connId = this.channelOwners.get(channelId);
    if (connId === undefined) return;
    this.log.info({ channelId, connId }, 'rtmp publisher kicked');
    this.worker.send({ t: 'kick', connId });
  }

  private onConnection(socket: Socket): void {
    if (this.closing || !this.worker.ready) {
      socket.destroy();
      return;
    }
    this.worker.send({ t: 'connection', connId: this.nextConnId++ }, socket);
  }

  private onWorkerMessage(message: Exclude<WorkerMessage, { t: 'ready' | 'log' }>): void {
    switch (message.t) {
      case 'publish-request': {
        const remoteAddress = message.remoteAddress.replace(/^::ffff:/, '');
        const attempt: PublishAttempt = { connId: message.connId, remoteAddress, announced: false };
        this.attempts.set(message.connId, attempt);
        void this.decide(attempt, message.app, message.streamName);
        break;
      }
      case 'publish-started': {
        const attempt = this.attempts.get(message.connId);
        if (!attempt?.channel || !attempt.publishId || !attempt.token || !attempt.startedAt || !attempt.tags || attempt.announced) return;
        attempt.announced = true;
        this.emitSafely('publish', {
          ...attempt.channel,
          publishId: attempt.publishId,
          remoteAddress: attempt.remoteAddress,
          internalUrl: `rtmp://${loopbackHost(this.options.host)}:${this.port}/${INTERNAL_APP}/${attempt.publishId}?token=${attempt.token}`,
          startedAt: attempt.startedAt,
          media: message.media,
          tags: attempt.tags,
        });
        break;
      }
      case 'connection-closed': {
        const attempt = this.attempts.get(message.connId);
        if (attempt) this.ended(attempt, message.reason, message.inBytes);
        break;
      }
    }
  }

  private async decide(attempt: PublishAttempt, app: string, key: string): Promise<void> {
    let channel: IngestChannel | null = null;
    let refusal: RefusalReason | null = null;
    if (this.closing) refusal = 'closing';
    else if (app !== 'live') refusal = 'bad-app';
    else {
      try {
        channel = await withTimeout(this.options.verifyStreamKey(key), VERIFY_TIMEOUT_MS);
        if (!channel) refusal = 'bad-key';
        else if (this.options.admit) refusal = await withTimeout(this.options.admit(channel), VERIFY_TIMEOUT_MS);
      } catch (err) {
        this.log.error({ err, connId: attempt.connId }, 'stream key check failed');
        refusal = 'verify-failed';
      }
    }
    // The client may have gone, or the worker died, while the key was being checked.
    if (this.attempts.get(attempt.connId) !== attempt) return;
    if (channel && this.channelOwners.has(channel.channelId)) refusal = 'already-live';
    const fields = {
      connId: attempt.connId,
      remoteAddress: attempt.remoteAddress,
      // An app that is neither of ours may be a key typed into the server URL: never log it.
      path: redactStreamPath(`/${app === 'live' || app === INTERNAL_APP ? app : 'other'}/${key}`),
    };
    if (refusal || !channel) {
      const reason = refusal ?? 'bad-key';
      const delayMs = reason === 'bad-key' || reason === 'bad-app' ? this.throttle.fail(attempt.remoteAddress) : 0;
      this.log.warn({ ...fields, reason, delayMs, channelId: channel?.channelId }, 'rtmp publish refused');
      this.timers.after(delayMs, () => this.worker.send({ t: 'publish-refused', connId: attempt.connId, reason }));
      return;
    }
    this.throttle.succeed(attempt.remoteAddress);
    attempt.channel = channel;
    attempt.publishId = randomUUID();
    attempt.token = randomBytes(24).toString('base64url');
    attempt.startedAt = new Date();
    attempt.tags = new PublishTags();
    this.channelOwners.set(channel.channelId, attempt.connId);
    this.log.info({ ...fields, channelId: channel.channelId, slug: channel.slug, publishId: attempt.publishId }, 'rtmp publish accepted');
    this.worker.send({ t: 'publish-accepted', connId: attempt.connId, publishId: attempt.publishId, token: attempt.token });
  }

  private ended(attempt: PublishAttempt, reason: UnpublishReason, inBytes: number | null): void {
    this.attempts.delete(attempt.connId);
    attempt.tags?.end();
    const { channel, publishId, startedAt } = attempt;
    if (!channel || !publishId || !startedAt) return;
    if (this.channelOwners.get(channel.channelId) === attempt.connId) this.channelOwners.delete(channel.channelId);
    if (!attempt.announced) return;
    this.log.info({ channelId: channel.channelId, publishId, reason, inBytes }, 'rtmp publish ended');
    this.emitSafely('unpublish', { ...channel, publishId, reason, remoteAddress: attempt.remoteAddress, startedAt, endedAt: new Date(), inBytes });
  }

  /** A listener's exception is logged, never allowed to break the ingest's bookkeeping. */
  private emitSafely(event: 'publish', payload: PublishEvent): void;
  private emitSafely(event: 'unpublish', payload: UnpublishEvent): void;
  private emitSafely(event: keyof IngestEvents, payload: PublishEvent | UnpublishEvent): void {
    try {
      (this.emit as (event: string, payload: unknown) => boolean)(event, payload);
    } catch (err) {
      this.log.error({ err, event }, 'ingest event listener failed');
    }
  }
}

/** Where this host reaches the listener: loopback for a wildcard bind, else the bound address. */
function loopbackHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIPv6(host) ? `[${host}]` : host;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stream key check took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
