// Which streams are live on any node, read from the database: the live API and channel pages are
// the same on every node, and a node that does not own a session finds the owner to proxy to.
import { sql, type Kysely } from 'kysely';
import type { ChannelTables } from '../src/channels/channel-tables.ts';
import type { LiveTables } from './live-tables.ts';

export interface LiveEntry {
  sessionId: string;
  channelId: string;
  slug: string;
  title: string;
  startedAt: Date;
  ownerNode: string | null;
  ready: boolean;
}

export interface SessionOwner {
  ownerNode: string;
  ownerUrl: string;
}

// The owner answers an ended session's playlists (ENDLIST) this long, as live-manager.ts keeps them.
const ENDED_SERVED_MS = 5 * 60_000;
// Owner lookups are remembered briefly: a few hundred players polling through this node cost one query.
const OWNER_CACHE_MS = 2000;
const OWNER_CACHE_MAX = 1000;

export class LiveDirectory {
  private readonly owners = new Map<string, { at: number; owner: Promise<SessionOwner | null> }>();

  constructor(private readonly db: Kysely<LiveTables & ChannelTables>) {}

  private open() {
    return this.db
      .selectFrom('live_sessions')
      .innerJoin('channels', 'channels.id', 'live_sessions.channel_id')
      .select([
        'live_sessions.id',
        'live_sessions.channel_id',
        'channels.slug',
        'channels.title',
        'live_sessions.started_at',
        'live_sessions.owner_node',
        'live_sessions.ready_at',
      ])
      .where('live_sessions.ended_at', 'is', null)
      .where('live_sessions.lease_expires_at', '>=', sql<Date>`now()`);
  }

  /** Streams live now with a complete master playlist, on every node. */
  async live(): Promise<LiveEntry[]> {
    const rows = await this.open().where('live_sessions.ready_at', 'is not', null).execute();
    return rows.map(toEntry);
  }

  /** Every open session on every node, ready or still starting (the admin's list). */
  async all(): Promise<LiveEntry[]> {
    return (await this.open().execute()).map(toEntry);
  }

  async byChannel(channelId: string): Promise<LiveEntry | null> {
    const row = await this.open().where('live_sessions.channel_id', '=', channelId).executeTakeFirst();
    return row ? toEntry(row) : null;
  }

  /** The node serving a session (live, or ended a moment ago but not lost), briefly cached. */
  owner(sessionId: string): Promise<SessionOwner | null> {
    const now = Date.now();
    const cached = this.owners.get(sessionId);
    if (cached && now - cached.at < OWNER_CACHE_MS) return cached.owner;
    const owner = this.lookUpOwner(sessionId);
    if (this.owners.size >= OWNER_CACHE_MAX) {
      for (const [id, entry] of this.owners) if (now - entry.at >= OWNER_CACHE_MS || this.owners.size >= OWNER_CACHE_MAX) this.owners.delete(id);
    }
    this.owners.set(sessionId, { at: now, owner });
    owner.catch(() => this.owners.delete(sessionId));
    return owner;
  }

  private async lookUpOwner(sessionId: string): Promise<SessionOwner | null> {
    const row = await this.db
      .selectFrom('live_sessions')
      .select(['owner_node', 'owner_url'])
      .where('id', '=', sessionId)
      .where((eb) =>
        eb.or([
          eb('ended_at', 'is', null),
          eb.and([eb('end_reason', '!=', 'node-lost'), eb('ended_at', '>', sql<Date>`now() - ${ENDED_SERVED_MS} * interval '1 millisecond'`)]),
        ]),
      )
      .executeTakeFirst();
    return row?.owner_node && row.owner_url ? { ownerNode: row.owner_node, ownerUrl: row.owner_url } : null;
  }
}

function toEntry(row: { id: string; channel_id: string; slug: string; title: string; started_at: Date; owner_node: string | null; ready_at: Date | null }): LiveEntry {
  return { sessionId: row.id, channelId: row.channel_id, slug: row.slug, title: row.title, startedAt: row.started_at, ownerNode: row.owner_node, ready: row.ready_at !== null };
}
