// What chat does, whichever door the request came through (socket frame or REST): posting with
// its checks and limits, moderation with an audit row per action, history and replay. Every
// change a room must see is published on the channel's bus topic, so every node hears it.
import type { Kysely } from 'kysely';
import type { Bus } from '../src/bus/bus.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { Logger } from '../src/log.ts';
import { ChatError } from './chat-errors.ts';
import { cleanText } from '../src/text/clean-text.ts';
import { MAX_MESSAGE_CHARS, charLength, type ChatMessage, type ChatUser, type Role, type RoomFrame } from './chat-protocol.ts';
import { ChatStore } from './chat-store.ts';
import { ModerationStore, type AuditEntry, type BanEntry } from './moderation-store.ts';
import type { ChatDb } from './chat-tables.ts';

export interface ChatChannel {
  id: string;
  slug: string;
  ownerId: string;
}

export interface LiveLookup {
  /** The channel's live session if this node ingests it (its startedAt is in the database row too). */
  liveSession(channelId: string): { id: string; startedAt: Date } | null;
}

export interface ChatLimits {
  /** Messages a user may send at once, then `perSecond` sustained (a token bucket kept by the bus's backend). */
  burst: number;
  perSecond: number;
  historySize: number;
}

export const DEFAULT_LIMITS: ChatLimits = { burst: 5, perSecond: 0.5, historySize: 50 };

/** Node-to-node presence on a room's topic; never forwarded to clients. */
export interface PresenceEvent {
  type: 'presence';
  node: string;
  count: number;
}

export type TopicEvent = RoomFrame | PresenceEvent;

export const chatTopic = (channelId: string) => `chat:${channelId}`;

// The ingest node knows its sessions in memory; other nodes ask the database, at most this often.
const SESSION_CACHE_MS = 3000;

export class ChatService {
  private readonly messages: ChatStore;
  private readonly moderation: ModerationStore;
  private readonly sessionCache = new Map<string, { at: number; session: { id: string } | null }>();

  constructor(
    private readonly deps: { db: Kysely<ChatDb>; bus: Bus; limiter: RateLimiter; live: LiveLookup; log: Logger; limits: ChatLimits },
  ) {
    this.messages = new ChatStore(deps.db);
    this.moderation = new ModerationStore(deps.db);
  }

  async history(channelId: string): Promise<ChatMessage[]> {
    return this.messages.history(channelId, this.deps.limits.historySize);
  }

  slowMode(channelId: string): Promise<number> {
    return this.moderation.slowMode(channelId);
  }

  async role(channel: ChatChannel, userId: string): Promise<Role> {
    if (channel.ownerId === userId) return 'owner';
    return (await this.moderation.isModerator(channel.id, userId)) ? 'moderator' : 'viewer';
  }

  async post(channel: ChatChannel, user: ChatUser, raw: string): Promise<ChatMessage> {
    const text = cleanText(raw);
    if (text.length === 0) throw new ChatError('MESSAGE_EMPTY');
    if (charLength(text) > MAX_MESSAGE_CHARS) throw new ChatError('MESSAGE_TOO_LONG');
    const state = await this.moderation.postingState(channel.id, user.id);
    if (state.ban) {
      if (state.ban.expiresAt === null) throw new ChatError('BANNED');
      const retryAfterMs = Math.max(1, state.ban.expiresAt.getTime() - Date.now());
      throw new ChatError('TIMED_OUT', `You are timed out for another ${Math.ceil(retryAfterMs / 1000)} s.`, retryAfterMs);
    }
    const { limiter, limits } = this.deps;
    const rate = await limiter.take(`chat:rate:${user.id}`, { capacity: limits.burst, refillPerSecond: limits.perSecond });
    if (!rate.allowed) throw new ChatError('RATE_LIMITED', `You are sending messages too fast; wait ${Math.ceil(rate.retryAfterMs / 1000)} s.`, rate.retryAfterMs);
    const exempt = channel.ownerId === user.id || state.moderator;
    if (state.slowModeS > 0 && !exempt) {
      const slow = await limiter.take(`chat:slow:${channel.id}:${user.id}`, { capacity: 1, refillPerSecond: 1 / state.slowModeS });
      if (!slow.allowed) throw new ChatError('SLOW_MODE', `Slow mode: one message every ${state.slowModeS} s.`, slow.retryAfterMs);
    }
    const session = await this.liveSession(channel.id);
    const message = await this.messages.insert({
      channelId: channel.id,
      liveSessionId: session?.id ?? null,
      user: { id: user.id, username: user.username },
      text,
    });
    await this.publish(channel.id, { type: 'message', message });
    return message;
  }

  async deleteMessage(channel: ChatChannel, actor: ChatUser, messageId: string): Promise<void> {
    await this.requireModerator(channel, actor.id);
    await this.deps.db.transaction().execute(async (trx) => {
      const deleted = await new ChatStore(trx).markDeleted(channel.id, messageId, actor.id);
      if (!deleted) throw new ChatError('NOT_FOUND', 'No such message in this chat.');
      await new ModerationStore(trx).writeAudit({ channelId: channel.id, actorId: actor.id, action: 'delete', targetUserId: deleted.userId, details: { messageId } });
    });
    await this.publish(channel.id, { type: 'deleted', messageId });
  }

  /** A timeout (seconds) or a ban (seconds null). */
  async restrict(channel: ChatChannel, actor: ChatUser, username: string, seconds: number | null, reason = ''): Promise<void> {
    const role = await this.requireModerator(channel, actor.id);
    const target = await this.requireUser(username);
    if (target.id === channel.ownerId) throw new ChatError('FORBIDDEN', 'The channel owner cannot be banned or timed out.');
    if (role !== 'owner' && (await this.moderation.isModerator(channel.id, target.id))) {
      throw new ChatError('FORBIDDEN', 'Only the channel owner may ban or time out a moderator.');
    }
    const expiresAt = seconds === null ? null : new Date(Date.now() + seconds * 1000);
    const action = seconds === null ? 'ban' : 'timeout';
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ModerationStore(trx);
      await store.upsertBan(channel.id, target.id, expiresAt, reason, actor.id);
      await store.writeAudit({ channelId: channel.id, actorId: actor.id, action, targetUserId: target.id, details: seconds === null ? { reason } : { seconds, reason } });
    });
    this.deps.log.info({ channelId: channel.id, actor: actor.id, target: target.id, action, seconds }, 'chat user restricted');
    await this.publish(channel.id, { type: 'moderation', action, user: target, ...(expiresAt ? { until: expiresAt.toISOString() } : {}) });
  }

  async unban(channel: ChatChannel, actor: ChatUser, username: string): Promise<void> {
    await this.requireModerator(channel, actor.id);
    const target = await this.requireUser(username);
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ModerationStore(trx);
      if (!(await store.deleteBan(channel.id, target.id))) throw new ChatError('NOT_FOUND', `${target.username} is not banned or timed out here.`);
      await store.writeAudit({ channelId: channel.id, actorId: actor.id, action: 'unban', targetUserId: target.id });
    });
    await this.publish(channel.id, { type: 'moderation', action: 'unban', user: target });
  }

  async setSlowMode(channel: ChatChannel, actor: ChatUser, seconds: number): Promise<void> {
    await this.requireModerator(channel, actor.id);
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ModerationStore(trx);
      await store.setSlowMode(channel.id, seconds);
      await store.writeAudit({ channelId: channel.id, actorId: actor.id, action: 'slow-mode', targetUserId: null, details: { seconds } });
    });
    await this.publish(channel.id, { type: 'slow-mode', seconds });
  }

  async bans(channel: ChatChannel, actorId: string): Promise<BanEntry[]> {
    await this.requireModerator(channel, actorId);
    return this.moderation.activeBans(channel.id);
  }

  async audit(channel: ChatChannel, actorId: string, limit: number, before?: Date): Promise<AuditEntry[]> {
    await this.requireModerator(channel, actorId);
    return this.moderation.audit(channel.id, limit, before);
  }

  /** The owner's list; callers check ownership (ChannelService.requireOwned). */
  moderators(channel: ChatChannel) {
    return this.moderation.moderators(channel.id);
  }

  async addModerator(channel: ChatChannel, owner: ChatUser, username: string): Promise<{ id: string; username: string }> {
    const target = await this.requireUser(username);
    if (target.id === channel.ownerId) throw new ChatError('FORBIDDEN', 'The owner already moderates their own chat.');
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ModerationStore(trx);
      if (await store.addModerator(channel.id, target.id, owner.id)) {
        await store.writeAudit({ channelId: channel.id, actorId: owner.id, action: 'moderator-add', targetUserId: target.id });
      }
    });
    return target;
  }

  async removeModerator(channel: ChatChannel, owner: ChatUser, username: string): Promise<void> {
    const target = await this.requireUser(username);
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ModerationStore(trx);
      if (!(await store.removeModerator(channel.id, target.id))) throw new ChatError('NOT_FOUND', `${target.username} is not a moderator here.`);
      await store.writeAudit({ channelId: channel.id, actorId: owner.id, action: 'moderator-remove', targetUserId: target.id });
    });
  }

  /** For reports: a shown message's author, or null. */
  async messageAuthor(messageId: string): Promise<{ userId: string; channelId: string } | null> {
    return this.messages.find(messageId);
  }

  /** An instance moderator deletes a reported message: as a channel moderator's delete, audited in the channel too. */
  async removeMessage(messageId: string, actorId: string): Promise<void> {
    const found = await this.messages.find(messageId);
    if (!found) throw new ChatError('NOT_FOUND', 'No such message.');
    await this.deps.db.transaction().execute(async (trx) => {
      const deleted = await new ChatStore(trx).markDeleted(found.channelId, messageId, actorId);
      if (!deleted) throw new ChatError('NOT_FOUND', 'No such message.');
      await new ModerationStore(trx).writeAudit({ channelId: found.channelId, actorId, action: 'delete', targetUserId: deleted.userId, details: { messageId, instance: true } });
    });
    await this.publish(found.channelId, { type: 'deleted', messageId });
  }

  /**
   * Hides a suspended user's messages from history and replay (or shows them again). Rooms are
   * told to drop the recent ones now on screen; a shown-again message appears on the next join.
   */
  async setUserHidden(userId: string, hidden: boolean): Promise<number> {
    const changed = await this.messages.setHiddenForUser(userId, hidden, new Date(Date.now() - 24 * 3600 * 1000));
    if (hidden) for (const m of changed.slice(0, 500)) await this.publish(m.channelId, { type: 'deleted', messageId: m.id });
    return changed.length;
  }

  /** Messages of a recording between two offsets; null when there is no such session. */
  async replay(liveSessionId: string, fromMs: number, toMs: number, limit: number): Promise<ChatMessage[] | null> {
    if (!(await this.messages.liveSessionExists(liveSessionId))) return null;
    return this.messages.replay(liveSessionId, fromMs, toMs, limit);
  }

  async publish(channelId: string, event: TopicEvent): Promise<void> {
    await this.deps.bus.publish(chatTopic(channelId), event);
  }

  private async requireModerator(channel: ChatChannel, userId: string): Promise<Role> {
    const role = await this.role(channel, userId);
    if (role === 'viewer') throw new ChatError('FORBIDDEN');
    return role;
  }

  private async requireUser(username: string): Promise<{ id: string; username: string }> {
    const user = await this.moderation.userByName(username);
    if (!user) throw new ChatError('NOT_FOUND', `No user named ${username}.`);
    return user;
  }

  private async liveSession(channelId: string): Promise<{ id: string } | null> {
    const local = this.deps.live.liveSession(channelId);
    if (local) return local;
    const cached = this.sessionCache.get(channelId);
    if (cached && Date.now() - cached.at < SESSION_CACHE_MS) return cached.session;
    const session = await this.messages.openLiveSession(channelId);
    this.sessionCache.set(channelId, { at: Date.now(), session });
    if (this.sessionCache.size > 10_000) this.sessionCache.clear(); // bounded: a cache, not a record
    return session;
  }
}
