// The instance's audit trail: every action of an admin or instance moderator (roles, approvals,
// suspensions, reports, settings, invites, ending a stream) leaves a row, written in the same
// transaction as the change where there is one.
import type { Kysely, Transaction } from 'kysely';
import type { AccountTables } from './account-tables.ts';

export interface AuditEntry {
  actorId: string | null;
  action: string;
  targetUserId?: string | null;
  targetKind?: string | null;
  targetId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  actor: string | null;
  action: string;
  targetUser: string | null;
  targetKind: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

/** Any database view that has the audit table (a room's transaction included). */
export async function writeAudit<DB extends Pick<AccountTables, 'admin_audit'>>(db: Kysely<DB> | Transaction<DB>, entry: AuditEntry): Promise<void> {
  // kysely's database type is invariant: the bound above is the check, this is the cast.
  await (db as unknown as Kysely<Pick<AccountTables, 'admin_audit'>>)
    .insertInto('admin_audit')
    .values({
      actor_id: entry.actorId,
      action: entry.action,
      target_user_id: entry.targetUserId ?? null,
      target_kind: entry.targetKind ?? null,
      target_id: entry.targetId ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}

/** Newest first, with user names resolved; `before` pages back by time. */
export async function readAudit(db: Kysely<AccountTables>, limit: number, before?: Date): Promise<AuditRow[]> {
  let query = db
    .selectFrom('admin_audit as a')
    .leftJoin('users as actor', 'actor.id', 'a.actor_id')
    .leftJoin('users as target', 'target.id', 'a.target_user_id')
    .select(['a.id', 'a.action', 'a.target_kind', 'a.target_id', 'a.details', 'a.created_at', 'actor.username as actor', 'target.username as target_user'])
    .orderBy('a.created_at', 'desc')
    .orderBy('a.id', 'desc')
    .limit(limit);
  if (before) query = query.where('a.created_at', '<', before);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: r.id,
    actor: r.actor,
    action: r.action,
    targetUser: r.target_user,
    targetKind: r.target_kind,
    targetId: r.target_id,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
    createdAt: r.created_at,
  }));
}
