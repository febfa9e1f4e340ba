// Ownership of live sessions across nodes, kept in PostgreSQL: the node that ingests a stream owns
// its live_sessions row through a lease it renews; the partial unique index keeps one open session
// per channel whatever node inserts it. Times come from the database's clock (now()), so nodes whose
// clocks disagree still agree on whose lease has run out.
import { sql, type Kysely } from 'kysely';
import type { LiveTables } from './live-tables.ts';
import type { EndReason, RenditionInfo } from './stream-defs.ts';

export interface LeaseOptions {
  db: Kysely<LiveTables>;
  nodeId: string;
  /** Where other nodes reach this one; known once the HTTP listener is bound. */
  nodeUrl: () => string;
  leaseMs: number;
}

/** An open session as the lease table sees it. */
export interface LeasedSession {
  id: string;
  channelId: string;
  ownerNode: string | null;
}

export class SessionLeases {
  constructor(private readonly opts: LeaseOptions) {}

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** How long past its expiry a lease may be claimed: the owner's renewal interval, at most 2 s. */
  private claimGraceMs(): number {
    return Math.min(2000, Math.floor(this.opts.leaseMs / 5));
  }

  private expiry() {
    return sql<Date>`now() + ${this.opts.leaseMs} * interval '1 millisecond'`;
  }

  /** Records a new session owned by this node; throws on a channel another node has live. */
  async insert(session: { id: string; channelId: string; startedAt: Date; renditions: RenditionInfo[] }): Promise<void> {
    await this.opts.db
      .insertInto('live_sessions')
      .values({
        id: session.id,
        channel_id: session.channelId,
        started_at: session.startedAt,
        renditions: JSON.stringify(session.renditions),
        owner_node: this.opts.nodeId,
        owner_url: this.opts.nodeUrl(),
        lease_expires_at: this.expiry(),
      })
      .execute();
  }

  /**
   * Extends the lease of every open session this node owns, in one statement; returns their ids.
   * A session this node holds that is missing was ended elsewhere (node-lost) or deleted.
   */
  async renew(): Promise<Set<string>> {
    const rows = await this.opts.db
      .updateTable('live_sessions')
      .set({ lease_expires_at: this.expiry() })
      .where('owner_node', '=', this.opts.nodeId)
      .where('ended_at', 'is', null)
      .returning('id')
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** At start: this node's own sessions that a crash or kill left open; never another node's. */
  async endOwnInterrupted(): Promise<string[]> {
    const rows = await this.opts.db
      .updateTable('live_sessions')
      .set({ ended_at: sql`now()`, end_reason: 'server-restart' })
      .where('owner_node', '=', this.opts.nodeId)
      .where('ended_at', 'is', null)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Ends open sessions of other nodes whose lease ran out (all of them, or one channel's) as
   * node-lost. One conditional UPDATE: when two nodes race, PostgreSQL re-checks `ended_at IS NULL`
   * on the row the first one changed, so each session is claimed, and announced, exactly once. A
   * lease counts as run out only a moment after its expiry, so an owner coming back from a database
   * outage renews first.
   */
  async claimExpired(channelId?: string): Promise<LeasedSession[]> {
    let query = this.opts.db
      .updateTable('live_sessions')
      .set({ ended_at: sql`now()`, end_reason: 'node-lost' })
      .where('ended_at', 'is', null)
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', sql<Date>`now() - ${this.claimGraceMs()} * interval '1 millisecond'`)]))
      .where((eb) => eb.or([eb('owner_node', 'is', null), eb('owner_node', '!=', this.opts.nodeId)]));
    if (channelId) query = query.where('channel_id', '=', channelId);
    const rows = await query.returning(['id', 'channel_id', 'owner_node']).execute();
    return rows.map((r) => ({ id: r.id, channelId: r.channel_id, ownerNode: r.owner_node }));
  }

  /** The channel's open session with a running lease on another node, if any. */
  async liveElsewhere(channelId: string): Promise<LeasedSession | null> {
    const row = await this.opts.db
      .selectFrom('live_sessions')
      .select(['id', 'channel_id', 'owner_node'])
      .where('channel_id', '=', channelId)
      .where('ended_at', 'is', null)
      .where('lease_expires_at', '>=', sql<Date>`now()`)
      .where('owner_node', '!=', this.opts.nodeId)
      .executeTakeFirst();
    return row ? { id: row.id, channelId: row.channel_id, ownerNode: row.owner_node } : null;
  }

  async markReady(sessionId: string): Promise<void> {
    await this.opts.db.updateTable('live_sessions').set({ ready_at: sql`now()` }).where('id', '=', sessionId).execute();
  }

  /** Records the end unless the session was ended already (by another node that found it lost). */
  async end(sessionId: string, reason: EndReason, restarts: number): Promise<boolean> {
    const rows = await this.opts.db
      .updateTable('live_sessions')
      .set({ ended_at: sql`now()`, end_reason: reason, restarts })
      .where('id', '=', sessionId)
      .where('ended_at', 'is', null)
      .returning('id')
      .execute();
    return rows.length > 0;
  }
}
