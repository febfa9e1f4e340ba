// Keeps this node's side of the leases (session-leases.ts) and of revocations: renews the leases of
// the sessions it holds, ends other nodes' sessions whose lease ran out (node-lost, announced once),
// and hears "end channel X's stream, reason R" from the bus. The live manager tells it which
// sessions it holds and is told which ones it lost and which channels to end.
import type { Bus, Unsubscribe } from '../src/bus/bus.ts';
import type { Logger } from '../src/log.ts';
import type { SessionLeases } from './session-leases.ts';
import type { EndReason } from './stream-defs.ts';

/** The bus topic every node acts on: end this channel's stream, if it is here. */
export const REVOKE_TOPIC = 'stream.revoke';

export interface LeaseKeeperOptions {
  leases: SessionLeases;
  bus: Bus;
  log: Logger;
  /** LIVE_LEASE_S */
  leaseMs: number;
  /** A held session was ended elsewhere (found node-lost) or deleted: stop it here. */
  onLost: (sessionId: string) => Promise<void>;
  /** A revocation arrived: end the channel's stream if this node has it. */
  onRevoke: (channelId: string, reason: EndReason) => Promise<void>;
}

export class LeaseKeeper {
  /** Sessions whose row is written: the ones a renewal must find. */
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private busy = false;
  private closed = false;

  constructor(private readonly opts: LeaseKeeperOptions) {}

  /** Ends this node's own sessions a crash left open (never another node's), then starts keeping. */
  async start(): Promise<void> {
    const own = await this.opts.leases.endOwnInterrupted();
    if (own.length) this.opts.log.warn({ sessions: own }, 'ended live sessions interrupted by a restart of this node');
    await this.subscribe();
    await this.sweepExpired();
    // Five renewals per lease, at most 3 s apart: a database outage of two thirds of the lease is
    // ridden out, and the first renewal after it lands before other nodes may claim (see claimExpired).
    this.timer = setInterval(() => void this.tick(), Math.max(500, Math.min(3000, Math.floor(this.opts.leaseMs / 5)))).unref();
  }

  hold(sessionId: string): void {
    this.held.add(sessionId);
  }

  /** True when the session was held (its row is this node's to end). */
  release(sessionId: string): boolean {
    return this.held.delete(sessionId);
  }

  /** Announces a revocation to every node; false when the bus could not carry it. */
  async revoke(channelId: string, reason: EndReason): Promise<boolean> {
    try {
      await this.opts.bus.publish(REVOKE_TOPIC, { channelId, reason });
      return true;
    } catch (err) {
      this.opts.log.error({ err, channelId, reason }, 'announcing a revocation failed');
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.unsubscribe?.().catch(() => {});
  }

  private async subscribe(): Promise<void> {
    if (this.unsubscribe || this.closed) return;
    try {
      this.unsubscribe = await this.opts.bus.subscribe(REVOKE_TOPIC, (message) => {
        const m = message as { channelId?: unknown; reason?: unknown };
        if (typeof m?.channelId !== 'string' || typeof m.reason !== 'string') return;
        void this.opts.onRevoke(m.channelId, m.reason as EndReason);
      });
    } catch (err) {
      this.opts.log.warn({ err }, 'subscribing to revocations failed; trying again at the next lease renewal');
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      await this.renew();
      await this.sweepExpired();
      await this.subscribe();
    } finally {
      this.busy = false;
    }
  }

  /**
   * A failed renewal (database unreachable) is only logged and tried again: the lease outlasts a few
   * failures, and a stream must never end because the database blinked. A session missing from a
   * successful renewal was ended by another node (it found the lease expired) or deleted with its
   * channel: this node stops it too.
   */
  private async renew(): Promise<void> {
    const held = [...this.held];
    const startedAt = Date.now();
    let renewed: Set<string>;
    try {
      renewed = await this.opts.leases.renew();
    } catch (err) {
      this.opts.log.warn({ err }, 'renewing live session leases failed; retrying');
      return;
    }
    // A slow renewal eats into the lease: say so before the sessions are found lost.
    const tookMs = Date.now() - startedAt;
    if (tookMs > this.opts.leaseMs / 3) this.opts.log.warn({ tookMs, leaseMs: this.opts.leaseMs }, 'renewing live session leases was slow');
    for (const id of held) {
      if (renewed.has(id) || !this.held.has(id)) continue;
      this.opts.log.error({ session: id }, 'this node lost the lease of a live session; stopping it');
      await this.opts.onLost(id);
    }
  }

  /** Other nodes' sessions whose lease ran out: ended once (node-lost), and announced. */
  private async sweepExpired(): Promise<void> {
    let lost: Awaited<ReturnType<SessionLeases['claimExpired']>>;
    try {
      lost = await this.opts.leases.claimExpired();
    } catch (err) {
      this.opts.log.warn({ err }, 'looking for live sessions of lost nodes failed');
      return;
    }
    for (const s of lost) {
      this.opts.log.warn({ session: s.id, channelId: s.channelId, owner: s.ownerNode }, 'ended a live session whose node stopped renewing its lease');
      await this.opts.bus.publish('stream.ended', { sessionId: s.id, channelId: s.channelId, reason: 'node-lost' }).catch(() => {});
    }
  }
}
