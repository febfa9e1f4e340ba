// Owns every live session of this node: starts one when the ingest reports a publish, keeps it
// through a reconnect within the grace window, ends it with a typed reason, and records it in the
// database and on the bus. Across nodes: each session is held through a lease (session-leases.ts)
// that lease-keeper.ts renews; a revocation ("end channel X's stream, reason R") goes over the bus to
// whichever node owns the stream.
import { randomUUID } from 'node:crypto';
import type { Bus } from '../src/bus/bus.ts';
import type { Logger } from '../src/log.ts';
import { LiveSession, type LiveSessionOptions, type SourceTags } from './live-session.ts';
import type { SessionLeases } from './session-leases.ts';
import type { FreshSegments } from './fresh-segments.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { EndReason, RenditionInfo } from './stream-defs.ts';

/** The stream a live session is made from: the part of the ingest's publish event the packager uses. */
export interface LiveSource {
  channelId: string;
  slug: string;
  /** the publish's audio/video messages */
  tags: SourceTags;
  media: {
    video: {
      codec: string;
      width: number | null;
      height: number | null;
      fps: number | null;
      /** Enhanced RTMP multitrack: the encoder's own ladder, one rendition per track */
      tracks?: Array<{ id: number; codec: string }>;
    } | null;
    audio: { codec: string } | null;
  };
}

/** What the live manager needs from the ingest: the power to drop a publisher. */
export interface IngestControl {
  kick(channelId: string): void;
}

export interface LadderPlan {
  renditions: RenditionInfo[];
  buildRun: LiveSessionOptions['buildRun'];
  native: LiveSessionOptions['native'];
  ladderInput: LiveSessionOptions['ladderInput'];
}

export interface LiveManagerOptions {
  leases: SessionLeases;
  /** LIVE_LEASE_S: leases are renewed, and other nodes' expired ones looked for, five times per lease (≤ 3 s apart). */
  leaseMs: number;
  bus: Bus;
  log: Logger;
  mediaDir: string;
  ffmpegPath: string;
  partTarget: number;
  segmentTarget: number;
  windowSegments: number;
  graceMs: number;
  /** Read when a stream starts, so a changed instance setting applies to the next stream. 0: no limit. */
  maxDurationMs: number | (() => number);
  maxRestarts: number;
  /** Told of every part written (for /metrics). */
  onPart?: () => void;
  /** Plans the ladder for a source; the pure ffmpeg argument builder lives behind it. */
  plan: (source: LiveSource) => LadderPlan;
  /** Set when this process records (ARCHIVER=in-process): segments are handed to its recorder as they are written. */
  fresh?: FreshSegments;
}

export class LiveManager {
  private readonly byChannel = new Map<string, LiveSession>();
  private readonly byId = new Map<string, LiveSession>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private readonly maxTimers = new Map<string, NodeJS.Timeout>();
  private readonly keeper: LeaseKeeper;
  /** Sessions whose end is still being recorded and announced; close() waits for them. */
  private readonly ending = new Set<Promise<void>>();
  private ingest: IngestControl | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;

  constructor(private readonly opts: LiveManagerOptions) {
    this.keeper = new LeaseKeeper({
      leases: opts.leases,
      bus: opts.bus,
      log: opts.log,
      leaseMs: opts.leaseMs,
      onLost: async (id) => {
        const session = this.byId.get(id);
        if (!session || session.ended) return;
        this.ingest?.kick(session.channelId);
        await session.end('node-lost');
      },
      onRevoke: (channelId, reason) => this.endChannel(channelId, reason),
    });
  }

  connectIngest(ingest: IngestControl): void {
    this.ingest = ingest;
  }

  /** Ends this node's own interrupted sessions, then keeps its leases and hears revocations. */
  async start(): Promise<void> {
    await this.keeper.start();
  }

  /**
   * Ends `channelId`'s stream on whichever node owns it (key rotated, account deleted, a
   * suspension): a bus message every node acts on. With the bus down, this node acts alone.
   */
  async revoke(channelId: string, reason: EndReason): Promise<void> {
    if (!(await this.keeper.revoke(channelId, reason))) await this.endChannel(channelId, reason);
  }

  async onPublish(event: LiveSource): Promise<void> {
    if (this.closing) return this.ingest?.kick(event.channelId);
    const existing = this.byChannel.get(event.channelId);
    if (existing && !existing.ended) {
      // A reconnect within the grace window continues the same session and playlists.
      clearTimeout(this.graceTimers.get(event.channelId));
      this.graceTimers.delete(event.channelId);
      this.opts.log.info({ session: existing.id, channel: event.slug }, 'publisher reconnected within the grace window');
      existing.attach(event.tags);
      return;
    }
    let plan: LadderPlan;
    try {
      plan = this.opts.plan(event);
    } catch (err) {
      this.opts.log.warn({ channel: event.slug, reason: (err as Error).message }, 'stream refused');
      this.ingest?.kick(event.channelId);
      await this.opts.bus.publish('stream.refused', { channelId: event.channelId, slug: event.slug, reason: (err as Error).message });
      return;
    }
    const id = randomUUID();
    const log = this.opts.log.child({ session: id, channel: event.slug });
    const session = new LiveSession({
      id,
      channelId: event.channelId,
      slug: event.slug,
      mediaDir: this.opts.mediaDir,
      ffmpegPath: this.opts.ffmpegPath,
      buildRun: plan.buildRun,
      native: plan.native,
      ladderInput: plan.ladderInput,
      renditions: plan.renditions,
      partTarget: this.opts.partTarget,
      segmentTarget: this.opts.segmentTarget,
      windowSegments: this.opts.windowSegments,
      maxRestarts: this.opts.maxRestarts,
      log,
      fresh: this.opts.fresh,
    });
    session.health.source = {
      width: event.media.video?.width ?? null,
      height: event.media.video?.height ?? null,
      videoCodec: event.media.video?.codec ?? null,
      audioCodec: event.media.audio?.codec ?? null,
    };
    try {
      // A channel another node took meanwhile fails here, on the one-open-session-per-channel index.
      await this.opts.leases.insert({ id, channelId: event.channelId, startedAt: session.startedAt, renditions: plan.renditions });
    } catch (err) {
      log.warn({ err }, 'recording the live session failed; the publisher is dropped');
      this.ingest?.kick(event.channelId);
      await this.opts.bus.publish('stream.refused', { channelId: event.channelId, slug: event.slug, reason: 'already-live' }).catch(() => {});
      return;
    }
    this.keeper.hold(id);
    void this.announceReady(session);
    this.byChannel.set(event.channelId, session);
    this.byId.set(id, session);
    session.on('ended', (reason) => {
      const ending = this.onEnded(session, reason)
        .catch((err) => this.opts.log.error({ err, session: session.id }, 'ending a live session failed'))
        .finally(() => this.ending.delete(ending));
      this.ending.add(ending);
    });
    if (this.opts.onPart) session.on('part', this.opts.onPart);
    const maxDurationMs = typeof this.opts.maxDurationMs === 'function' ? this.opts.maxDurationMs() : this.opts.maxDurationMs;
    if (maxDurationMs > 0) {
      this.maxTimers.set(id, setTimeout(() => void this.endChannel(event.channelId, 'max-duration'), maxDurationMs).unref());
    }
    session.attach(event.tags);
    log.info({ renditions: plan.renditions.map((r) => r.name) }, 'live session started');
    await this.opts.bus.publish('stream.started', { sessionId: id, channelId: event.channelId, slug: event.slug, startedAt: session.startedAt.toISOString() });
  }

  /**
   * The publisher is gone. A deliberate stop (`unpublished`) ends the session at once, as Twitch
   * and Owncast do; a dropped connection keeps it for the grace window, so an encoder that
   * reconnects continues the same playlists, and ends it as `publisher-lost` otherwise.
   */
  async onUnpublish(channelId: string, how: 'unpublished' | 'publisher-lost'): Promise<void> {
    const session = this.byChannel.get(channelId);
    if (!session || session.ended) return;
    await session.detach();
    if (this.closing) return;
    clearTimeout(this.graceTimers.get(channelId));
    this.graceTimers.delete(channelId);
    if (how === 'unpublished') {
      this.opts.log.info({ session: session.id }, 'publisher stopped the stream');
      await session.end('unpublished');
      return;
    }
    this.graceTimers.set(
      channelId,
      setTimeout(() => {
        this.graceTimers.delete(channelId);
        void session.end('publisher-lost');
      }, this.opts.graceMs).unref(),
    );
  }

  /** Ends a channel's live session (key rotated, quota reached) and drops its publisher. */
  async endChannel(channelId: string, reason: EndReason): Promise<void> {
    const session = this.byChannel.get(channelId);
    this.ingest?.kick(channelId);
    if (session && !session.ended) await session.end(reason);
  }

  private async announceReady(session: LiveSession): Promise<void> {
    while (!session.ended && !this.closing) {
      if ((await session.waitForMaster(10_000)) === null) continue;
      await this.opts.leases.markReady(session.id).catch((err) => this.opts.log.error({ err, session: session.id }, 'marking a live session ready failed'));
      return;
    }
  }

  liveSession(channelId: string): LiveSession | null {
    const s = this.byChannel.get(channelId);
    return s && !s.ended ? s : null;
  }

  /** Any session still held in memory, live or recently ended (its playlists carry ENDLIST). */
  session(id: string): LiveSession | null {
    return this.byId.get(id) ?? null;
  }

  live(): LiveSession[] {
    return [...this.byChannel.values()].filter((s) => !s.ended);
  }

  /** Ends every live session as server-shutdown and records it; a second call waits for the first. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await this.keeper.close();
    for (const t of [...this.graceTimers.values(), ...this.maxTimers.values()]) clearTimeout(t);
    await Promise.all([...this.byChannel.values()].map((s) => s.end('server-shutdown')));
    // The rows and the stream.ended announcements, before the caller closes the database and the bus.
    await Promise.all(this.ending);
  }

  private async onEnded(session: LiveSession, reason: EndReason): Promise<void> {
    clearTimeout(this.maxTimers.get(session.id));
    this.maxTimers.delete(session.id);
    clearTimeout(this.graceTimers.get(session.channelId));
    this.graceTimers.delete(session.channelId);
    if (this.byChannel.get(session.channelId) === session) this.byChannel.delete(session.channelId);
    // Ended playlists stay answerable for a while so players see EXT-X-ENDLIST.
    setTimeout(() => this.byId.delete(session.id), 5 * 60_000).unref();
    if (!this.keeper.release(session.id)) return;
    // The row must end, or the channel stays live in every listing: a database outage is waited out.
    for (let attempt = 1; ; attempt++) {
      try {
        // false: ended elsewhere already (found node-lost), and announced there.
        if (!(await this.opts.leases.end(session.id, reason, session.restartCount))) return;
        break;
      } catch (err) {
        this.opts.log.error({ err, session: session.id, attempt }, 'recording the end of a live session failed; retrying');
        if (this.closing && attempt >= 3) return;
        await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5000)));
      }
    }
    await this.opts.bus
      .publish('stream.ended', { sessionId: session.id, channelId: session.channelId, slug: session.slug, reason })
      .catch((err) => this.opts.log.error({ err, session: session.id }, 'announcing the end of a live session failed'));
  }
}
