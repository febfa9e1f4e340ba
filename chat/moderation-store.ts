// Moderators, bans and timeouts, slow mode and the audit trail in Postgres. Construct it on a
// transaction to make an action and its audit row one commit.
import { sql, type Kysely } from 'kysely';
import type { ChatAuditAction, ChatDb } from './chat-tables.ts';

export interface PostingState {
  /** An active ban (expiresAt null) or timeout. */
  ban: { expiresAt: Date | null } | null;
  slowModeS: number;
  moderator: boolean;
}

export interface BanEntry {
  user: { id: string; username: string };
  expiresAt: string | null;
  reason: string;
  createdAt: string;
  by: string | null;
}

export interface AuditEntry {
  id: string;
  action: ChatAuditAction;
  actor: string | null;
  target: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

export class ModerationStore {
  constructor(private readonly db: Kysely<ChatDb>) {}

  /** Everything a post is checked against, in one round trip. */
  async postingState(channelId: string, userId: string): Promise<PostingState> {
    const result = await sql<{ ban_expires: Date | null; banned: boolean; slow_mode_s: number | null; moderator: boolean }>`
      select
        exists(select 1 from chat_bans where channel_id = ${channelId} and user_id = ${userId} and (expires_at is null or expires_at > now())) as banned,
        (select expires_at from chat_bans where channel_id = ${channelId} and user_id = ${userId}) as ban_expires,
        (select slow_mode_s from chat_settings where channel_id = ${channelId}) as slow_mode_s,
        exists(select 1 from chat_moderators where channel_id = ${channelId} and user_id = ${userId}) as moderator
    `.execute(this.db);
    const row = result.rows[0]!;
    return {
      ban: row.banned ? { expiresAt: row.ban_expires ? new Date(row.ban_expires) : null } : null,
      slowModeS: row.slow_mode_s ?? 0,
      moderator: row.moderator,
    };
  }

  async isModerator(channelId: string, userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('chat_moderators').select('user_id').where('channel_id', '=', channelId).where('user_id', '=', userId).executeTakeFirst();
    return row !== undefined;
  }

  async moderators(channelId: string): Promise<Array<{ id: string; username: string; addedAt: string }>> {
    const rows = await this.db
      .selectFrom('chat_moderators as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.username', 'm.created_at'])
      .where('m.channel_id', '=', channelId)
      .orderBy('u.username')
      .execute();
    return rows.map((r) => ({ id: r.id, username: r.username, addedAt: r.created_at.toISOString() }));
  }

  /** True when the user was not a moderator before. */
  async addModerator(channelId: string, userId: string, by: string): Promise<boolean> {
    const row = await this.db
      .insertInto('chat_moderators')
      .values({ channel_id: channelId, user_id: userId, added_by: by })
      .onConflict((oc) => oc.columns(['channel_id', 'user_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async removeModerator(channelId: string, userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('chat_moderators').where('channel_id', '=', channelId).where('user_id', '=', userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async activeBans(channelId: string): Promise<BanEntry[]> {
    const rows = await this.db
      .selectFrom('chat_bans as b')
      .innerJoin('users as u', 'u.id', 'b.user_id')
      .leftJoin('users as by', 'by.id', 'b.created_by')
      .select(['u.id', 'u.username', 'b.expires_at', 'b.reason', 'b.created_at', 'by.username as by_username'])
      .where('b.channel_id', '=', channelId)
      .where((eb) => eb.or([eb('b.expires_at', 'is', null), eb('b.expires_at', '>', new Date())]))
      .orderBy('b.created_at', 'desc')
      .execute();
    return rows.map((r) => ({
      user: { id: r.id, username: r.username },
      expiresAt: r.expires_at ? r.expires_at.toISOString() : null,
      reason: r.reason,
      createdAt: r.created_at.toISOString(),
      by: r.by_username,
    }));
  }

  /** A ban (expiresAt null) or a timeout; replaces whatever the user had. */
  async upsertBan(channelId: string, userId: string, expiresAt: Date | null, reason: string, by: string): Promise<void> {
    await this.db
      .insertInto('chat_bans')
      .values({ channel_id: channelId, user_id: userId, expires_at: expiresAt, reason, created_by: by })
      .onConflict((oc) => oc.columns(['channel_id', 'user_id']).doUpdateSet({ expires_at: expiresAt, reason, created_by: by, created_at: new Date() }))
      .execute();
  }

  /** Lifts a ban or timeout; false when the user had neither in force. */
  async deleteBan(channelId: string, userId: string): Promise<boolean> {
    const row = await this.db
      .deleteFrom('chat_bans')
      .where('channel_id', '=', channelId)
      .where('user_id', '=', userId)
      .returning('expires_at')
      .executeTakeFirst();
    return row !== undefined && (row.expires_at === null || row.expires_at.getTime() > Date.now());
  }

  async slowMode(channelId: string): Promise<number> {
    const row = await this.db.selectFrom('chat_settings').select('slow_mode_s').where('channel_id', '=', channelId).executeTakeFirst();
    return row?.slow_mode_s ?? 0;
  }

  async setSlowMode(channelId: string, seconds: number): Promise<void> {
    await this.db
      .insertInto('chat_settings')
      .values({ channel_id: channelId, slow_mode_s: seconds })
      .onConflict((oc) => oc.column('channel_id').doUpdateSet({ slow_mode_s: seconds, updated_at: new Date() }))
      .execute();
  }

  async writeAudit(entry: { channelId: string; actorId: string; action: ChatAuditAction; targetUserId: string | null; details?: Record<string, unknown> }): Promise<void> {
    await this.db
      .insertInto('chat_audit')
      .values({ channel_id: entry.channelId, actor_id: entry.actorId, action: entry.action, target_user_id: entry.targetUserId, details: JSON.stringify(entry.details ?? {}) })
      .execute();
  }

  /** Newest first; `before` pages back from an entry's createdAt. */
  async audit(channelId: string, limit: number, before?: Date): Promise<AuditEntry[]> {
    let query = this.db
      .selectFrom('chat_audit as a')
      .leftJoin('users as actor', 'actor.id', 'a.actor_id')
      .leftJoin('users as target', 'target.id', 'a.target_user_id')
      .select(['a.id', 'a.action', 'a.details', 'a.created_at', 'actor.username as actor', 'target.username as target'])
      .where('a.channel_id', '=', channelId);
    if (before) query = query.where('a.created_at', '<', before);
    const rows = await query.orderBy('a.created_at', 'desc').orderBy('a.id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      action: r.action,
      actor: r.actor,
      target: r.target,
      details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
      createdAt: r.created_at.toISOString(),
    }));
  }

  async userByName(username: string): Promise<{ id: string; username: string } | null> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'username'])
      .where((eb) => eb(eb.fn('lower', ['username']), '=', username.toLowerCase()))
      .executeTakeFirst();
    return row ?? null;
  }
}
