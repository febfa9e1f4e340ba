// Chat messages in Postgres: insert, the history shown on join, a recording's time range for
// replay, and soft deletion (a deleted message leaves history and replay but stays for audit).
import { sql, type Kysely } from 'kysely';
import type { ChatMessage } from './chat-protocol.ts';
import type { ChatDb } from './chat-tables.ts';

export interface NewMessage {
  channelId: string;
  liveSessionId: string | null;
  user: { id: string; username: string };
  text: string;
}

interface MessageRow {
  id: string;
  user_id: string;
  username: string;
  text: string;
  created_at: Date;
  offset_ms: string | number | null;
}

export class ChatStore {
  constructor(private readonly db: Kysely<ChatDb>) {}

  async insert(m: NewMessage): Promise<ChatMessage> {
    // The offset is measured by one clock, the database's, from the session row every node shares.
    const offset = m.liveSessionId
      ? sql<number>`(select greatest(0, floor(extract(epoch from (now() - started_at)) * 1000))::bigint from live_sessions where id = ${m.liveSessionId})`
      : null;
    const row = await this.db
      .insertInto('chat_messages')
      .values({ channel_id: m.channelId, live_session_id: m.liveSessionId, offset_ms: offset, user_id: m.user.id, text: m.text })
      .returning(['id', 'created_at', 'offset_ms'])
      .executeTakeFirstOrThrow();
    return toMessage({ ...row, user_id: m.user.id, username: m.user.username, text: m.text });
  }

  /** The last `limit` messages of a channel, oldest first. */
  async history(channelId: string, limit: number): Promise<ChatMessage[]> {
    const rows = await this.selectMessages()
      .where('m.channel_id', '=', channelId)
      .where('m.deleted_at', 'is', null)
      .orderBy('m.created_at', 'desc')
      .orderBy('m.id', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map(toMessage);
  }

  /** Messages of a live session with fromMs <= offset < toMs, in order; at most `limit`. */
  async replay(liveSessionId: string, fromMs: number, toMs: number, limit: number): Promise<ChatMessage[]> {
    const rows = await this.selectMessages()
      .where('m.live_session_id', '=', liveSessionId)
      .where('m.deleted_at', 'is', null)
      .where('m.offset_ms', '>=', fromMs)
      .where('m.offset_ms', '<', toMs)
      .orderBy('m.offset_ms')
      .orderBy('m.id')
      .limit(limit)
      .execute();
    return rows.map(toMessage);
  }

  /** Soft-deletes a message of the channel; returns its author, or null when there is none to delete. */
  async markDeleted(channelId: string, messageId: string, by: string): Promise<{ userId: string } | null> {
    const row = await this.db
      .updateTable('chat_messages')
      .set({ deleted_at: new Date(), deleted_by: by })
      .where('id', '=', messageId)
      .where('channel_id', '=', channelId)
      .where('deleted_at', 'is', null)
      .returning('user_id')
      .executeTakeFirst();
    return row ? { userId: row.user_id } : null;
  }

  /** A message that is still shown: its author and channel, or null. */
  async find(messageId: string): Promise<{ userId: string; channelId: string } | null> {
    const row = await this.db
      .selectFrom('chat_messages')
      .select(['user_id', 'channel_id'])
      .where('id', '=', messageId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? { userId: row.user_id, channelId: row.channel_id } : null;
  }

  /** Hides (or shows again) every message of a user; returns the ones changed that were sent since `recentSince`. */
  async setHiddenForUser(userId: string, hidden: boolean, recentSince: Date): Promise<Array<{ id: string; channelId: string }>> {
    const rows = await this.db
      .updateTable('chat_messages')
      .set({ hidden_at: hidden ? new Date() : null })
      .where('user_id', '=', userId)
      .where('hidden_at', hidden ? 'is' : 'is not', null)
      .returning(['id', 'channel_id', 'created_at'])
      .execute();
    return rows.filter((r) => r.created_at >= recentSince).map((r) => ({ id: r.id, channelId: r.channel_id }));
  }

  async liveSessionExists(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('live_sessions').select('id').where('id', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  /** The channel's open session as the database knows it: right on every node, not just the ingest node. */
  async openLiveSession(channelId: string): Promise<{ id: string } | null> {
    const row = await this.db.selectFrom('live_sessions').select('id').where('channel_id', '=', channelId).where('ended_at', 'is', null).executeTakeFirst();
    return row ?? null;
  }

  private selectMessages() {
    return this.db
      .selectFrom('chat_messages as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['m.id', 'm.user_id', 'u.username', 'm.text', 'm.created_at', 'm.offset_ms'])
      .where('m.hidden_at', 'is', null);
  }
}

function toMessage(row: MessageRow): ChatMessage {
  return {
    id: row.id,
    user: { id: row.user_id, username: row.username },
    text: row.text,
    createdAt: row.created_at.toISOString(),
    offsetMs: row.offset_ms === null ? null : Number(row.offset_ms),
  };
}

