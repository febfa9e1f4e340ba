// What admins and instance moderators do to accounts: list and search them, grant and revoke
// roles (never leaving the instance without an admin), approve sign-ups, suspend and lift, and
// make invite links. Every action writes an audit row in the same transaction as the change.
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AccountDb } from './account-service.ts';
import { isSuspended, isUuid } from './account-service.ts';
import type { AccountTables, Role } from './account-tables.ts';
import { narrow } from '../db/narrow.ts';
import { readAudit, writeAudit, type AuditRow } from './admin-audit.ts';
import { hashToken } from './tokens.ts';

export interface Actor {
  id: string;
  role: Role;
}

export interface AdminUser {
  id: string;
  username: string;
  email: string;
  role: Role;
  createdAt: Date;
  emailVerified: boolean;
  pendingApproval: boolean;
  channelId: string | null;
  suspension: { at: Date; until: Date | null; reason: string } | null;
}

export interface SuspendInput {
  reason: string;
  /** null: until lifted */
  until: Date | null;
  /** Hide the user's chat messages and comments while suspended. */
  hideContent: boolean;
}

export interface AccountAdminDeps {
  db: Kysely<AccountDb>;
  log: Logger;
  /** Signs the user out everywhere (refresh families revoked, tokens_not_before set). */
  revokeAllSessions: (userId: string) => Promise<void>;
  /** Ends the user's live stream, on whichever node owns it (reason `suspended`). */
  endLive: (channelId: string, reason: 'suspended') => Promise<void>;
  /** Hides (true) or shows again (false) the user's chat messages and comments. */
  setContentHidden: (userId: string, hidden: boolean) => Promise<void>;
}

export class AccountAdmin {
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: AccountAdminDeps) {}

  /** `q` matches a part of the username or email, in any case; pages by username. */
  async listUsers(opts: { q?: string; after?: string; limit: number }): Promise<AdminUser[]> {
    let query = this.selectUsers().orderBy(sql`lower(u.username)`).limit(opts.limit);
    if (opts.q) {
      const q = opts.q.toLowerCase();
      query = query.where((eb) => eb.or([eb(eb.fn('strpos', [eb.fn('lower', ['u.username']), eb.val(q)]), '>', 0), eb(eb.fn('strpos', [eb.fn('lower', ['u.email']), eb.val(q)]), '>', 0)]));
    }
    if (opts.after) query = query.where(sql`lower(u.username)`, '>', opts.after.toLowerCase());
    return (await query.execute()).map(toAdminUser);
  }

  async user(id: string): Promise<AdminUser> {
    const row = isUuid(id) ? await this.selectUsers().where('u.id', '=', id).executeTakeFirst() : undefined;
    if (!row) throw new AppError('NOT_FOUND', 'No such user.');
    return toAdminUser(row);
  }

  private selectUsers() {
    return this.deps.db
      .selectFrom('users as u')
      .leftJoin('channels as c', 'c.owner_id', 'u.id')
      .select([
        'u.id', 'u.username', 'u.email', 'u.role', 'u.created_at', 'u.email_verified_at', 'u.pending_approval',
        'u.suspended_at', 'u.suspended_until', 'u.suspension_reason', 'c.id as channel_id',
      ]);
  }

  /** ADMIN_USERNAME at start: that account, if it exists, becomes an admin (audited, actor none). */
  async promoteByName(username: string): Promise<boolean> {
    return this.deps.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('users')
        .set({ role: 'admin' })
        .where((eb) => eb(eb.fn('lower', ['username']), '=', username.toLowerCase()))
        .where('role', '!=', 'admin')
        .returning('id')
        .executeTakeFirst();
      if (row) await writeAudit(trx, { actorId: null, action: 'role-set', targetUserId: row.id, details: { to: 'admin', by: 'ADMIN_USERNAME' } });
      return row !== undefined;
    });
  }

  /** Grants or revokes an instance role. The last admin cannot stop being one. */
  async setRole(actor: Actor, userId: string, role: Role): Promise<AdminUser> {
    await this.deps.db.transaction().execute(async (trx) => {
      // Locks every admin row, so two admins demoting each other at once cannot both succeed.
      const admins = await trx.selectFrom('users').select('id').where('role', '=', 'admin').forUpdate().execute();
      const target = await this.lockTarget(trx, userId);
      if (target.role === role) return;
      if (target.role === 'admin' && admins.length <= 1) throw new AppError('LAST_ADMIN');
      await trx.updateTable('users').set({ role }).where('id', '=', userId).execute();
      await writeAudit(trx, { actorId: actor.id, action: 'role-set', targetUserId: userId, details: { from: target.role, to: role } });
    });
    this.deps.log.info({ actorId: actor.id, userId, role }, 'instance role set');
    return this.user(userId);
  }

  async approve(actor: Actor, userId: string): Promise<AdminUser> {
    await this.deps.db.transaction().execute(async (trx) => {
      const target = await this.lockTarget(trx, userId);
      if (!target.pending_approval) return;
      await trx.updateTable('users').set({ pending_approval: false }).where('id', '=', userId).execute();
      await writeAudit(trx, { actorId: actor.id, action: 'approve', targetUserId: userId });
    });
    return this.user(userId);
  }

  /**
   * Suspends an account: it cannot sign in, its sessions and access tokens stop working at once,
   * its live stream ends, its stream key is refused, and its content is hidden when asked.
   * Moderators may suspend ordinary users only; nobody suspends themselves or the last admin.
   */
  async suspend(actor: Actor, userId: string, input: SuspendInput): Promise<AdminUser> {
    if (input.until && input.until.getTime() <= Date.now()) throw new AppError('VALIDATION', 'The end of a suspension must be in the future.');
    if (actor.id === userId) throw new AppError('FORBIDDEN', 'You cannot suspend yourself.');
    const channelId = await this.deps.db.transaction().execute(async (trx) => {
      const admins = await trx.selectFrom('users').select('id').where('role', '=', 'admin').forUpdate().execute();
      const target = await this.lockTarget(trx, userId);
      if (target.role !== 'user' && actor.role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins may suspend instance staff.');
      if (target.role === 'admin' && admins.length <= 1) throw new AppError('LAST_ADMIN');
      await trx
        .updateTable('users')
        .set({ suspended_at: new Date(), suspended_until: input.until, suspension_reason: input.reason, suspended_by: actor.id })
        .where('id', '=', userId)
        .execute();
      await writeAudit(trx, { actorId: actor.id, action: 'suspend', targetUserId: userId, details: { reason: input.reason, until: input.until?.toISOString() ?? null, hideContent: input.hideContent } });
      const channel = await trx.selectFrom('channels').select('id').where('owner_id', '=', userId).executeTakeFirst();
      return channel?.id ?? null;
    });
    await this.deps.revokeAllSessions(userId);
    this.deps.log.info({ actorId: actor.id, userId, until: input.until }, 'account suspended');
    // The suspension already holds (sign-in, tokens, stream key); these two finish the job and are
    // logged, not thrown, when they fail.
    if (channelId) await this.deps.endLive(channelId, 'suspended').catch((err) => this.deps.log.error({ err, userId }, 'ending a suspended user’s stream failed'));
    if (input.hideContent) await this.deps.setContentHidden(userId, true).catch((err) => this.deps.log.error({ err, userId }, 'hiding a suspended user’s content failed'));
    return this.user(userId);
  }

  /** Lifts a suspension: sign-in, streaming and hidden content come back (deleted content does not). */
  async lift(actor: Actor | null, userId: string): Promise<AdminUser> {
    const lifted = await this.deps.db.transaction().execute(async (trx) => {
      const target = await this.lockTarget(trx, userId);
      if (target.suspended_at === null) return false;
      await trx.updateTable('users').set({ suspended_at: null, suspended_until: null, suspension_reason: null, suspended_by: null }).where('id', '=', userId).execute();
      await writeAudit(trx, { actorId: actor?.id ?? null, action: actor ? 'lift-suspension' : 'suspension-expired', targetUserId: userId });
      return true;
    });
    if (lifted) {
      this.deps.log.info({ actorId: actor?.id, userId }, 'suspension lifted');
      await this.deps.setContentHidden(userId, false).catch((err) => this.deps.log.error({ err, userId }, 'showing a user’s content again failed'));
    }
    return this.user(userId);
  }

  /** Lifts suspensions whose end has passed, every `intervalMs`, on any node (each is claimed once). */
  sweepExpired(intervalMs = 60_000): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => void this.liftExpired(), intervalMs);
    this.sweepTimer.unref();
  }

  async liftExpired(): Promise<number> {
    try {
      const due = await this.deps.db.selectFrom('users').select('id').where('suspended_at', 'is not', null).where('suspended_until', '<=', new Date()).execute();
      for (const { id } of due) await this.lift(null, id);
      return due.length;
    } catch (err) {
      this.deps.log.error({ err }, 'lifting expired suspensions failed');
      return 0;
    }
  }

  /** A new invite link code (shown once; stored hashed). */
  async createInvite(actor: Actor, opts: { maxUses: number; expiresInHours: number }): Promise<{ code: string; expiresAt: Date; maxUses: number }> {
    const code = randomBytes(18).toString('base64url');
    const expiresAt = new Date(Date.now() + opts.expiresInHours * 3600 * 1000);
    await this.deps.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('invites').values({ token_hash: hashToken(code), created_by: actor.id, expires_at: expiresAt, max_uses: opts.maxUses }).returning('id').executeTakeFirstOrThrow();
      await writeAudit(trx, { actorId: actor.id, action: 'invite-create', targetKind: 'invite', targetId: row.id, details: { maxUses: opts.maxUses, expiresAt: expiresAt.toISOString() } });
    });
    return { code, expiresAt, maxUses: opts.maxUses };
  }

  audit(limit: number, before?: Date): Promise<AuditRow[]> {
    return readAudit(narrow(this.deps.db).to<AccountTables>(), limit, before);
  }

  /** For actions other rooms carry out (ending a stream, saving settings): the audit row alone. */
  record(actor: Actor, action: string, target: { userId?: string | null; kind?: string; id?: string; details?: Record<string, unknown> }): Promise<void> {
    return writeAudit(this.deps.db, { actorId: actor.id, action, targetUserId: target.userId ?? null, targetKind: target.kind ?? null, targetId: target.id ?? null, details: target.details });
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private async lockTarget(trx: Kysely<AccountDb>, userId: string) {
    if (!isUuid(userId)) throw new AppError('NOT_FOUND', 'No such user.');
    const row = await trx
      .selectFrom('users')
      .select(['id', 'role', 'pending_approval', 'suspended_at'])
      .where('id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such user.');
    return row;
  }
}

function toAdminUser(r: {
  id: string; username: string; email: string; role: Role; created_at: Date; email_verified_at: Date | null; pending_approval: boolean;
  suspended_at: Date | null; suspended_until: Date | null; suspension_reason: string | null; channel_id: string | null;
}): AdminUser {
  return {
    id: r.id,
    username: r.username,
    email: r.email,
    role: r.role,
    createdAt: r.created_at,
    emailVerified: r.email_verified_at !== null,
    pendingApproval: r.pending_approval,
    channelId: r.channel_id,
    suspension: isSuspended(r) ? { at: r.suspended_at!, until: r.suspended_until, reason: r.suspension_reason ?? '' } : null,
  };
}
