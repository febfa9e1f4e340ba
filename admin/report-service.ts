// Reports: any signed-in user reports a channel, a video, a chat message or a comment with a
// reason; admins and instance moderators work through the queue (dismiss, delete the content,
// suspend its author) and the reporter is told the outcome. Targets live in other rooms, so each
// kind is checked and removed through functions main.ts hands in.
import type { Kysely } from 'kysely';
import type { Actor, SuspendInput } from '../src/accounts/account-admin.ts';
import { writeAudit } from '../src/accounts/admin-audit.ts';
import type { BucketSpec, RateLimiter } from '../src/bus/rate-limiter.ts';
import { AppError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { cleanText } from '../src/text/clean-text.ts';
import type { AdminDb, ReportStatus, ReportTargetKind } from './admin-tables.ts';

export const TARGET_KINDS: readonly ReportTargetKind[] = ['channel', 'video', 'chat-message', 'comment'];

/** A reported thing as its room sees it: who made it. */
export interface ReportTarget {
  ownerId: string | null;
}

export interface ReportTargets {
  /** null when there is no such thing (or it is already gone). */
  find: Record<ReportTargetKind, (id: string) => Promise<ReportTarget | null>>;
  /** Deletes the thing for good; kinds without one cannot be deleted from a report (a channel: suspend its owner). */
  remove: Partial<Record<ReportTargetKind, (id: string, actorId: string) => Promise<void>>>;
}

export interface ReportOutcome {
  reportId: string;
  targetKind: ReportTargetKind;
  targetId: string;
  status: Exclude<ReportStatus, 'open'>;
  note: string;
}

export interface ReportServiceDeps {
  db: Kysely<AdminDb>;
  limiter: RateLimiter;
  log: Logger;
  targets: ReportTargets;
  suspend: (actor: Actor, userId: string, input: SuspendInput) => Promise<unknown>;
  /** Tells a reporter the outcome (their notifications). The outcome is also kept on the report row. */
  notify: (userId: string, outcome: ReportOutcome) => Promise<void>;
  /** Reports one user may file (refused ones count: they probe for ids): a burst, then a slow refill. Default 10 an hour. */
  limit?: BucketSpec;
}

export interface ReportView {
  id: string;
  targetKind: ReportTargetKind;
  targetId: string;
  reason: string;
  status: ReportStatus;
  resolutionNote: string;
  createdAt: Date;
  resolvedAt: Date | null;
  reporter: string | null;
  targetUser: string | null;
  targetUserId: string | null;
}

export type ResolveAction = { action: 'dismiss'; note?: string } | { action: 'delete-content'; note?: string } | { action: 'suspend'; note?: string; suspension: SuspendInput };

const STATUS_OF = { dismiss: 'dismissed', 'delete-content': 'content-deleted', suspend: 'user-suspended' } as const;

export class ReportService {
  constructor(private readonly deps: ReportServiceDeps) {}

  async create(reporterId: string, input: { targetKind: ReportTargetKind; targetId: string; reason: string }): Promise<ReportView> {
    const take = await this.deps.limiter.take(`reports:user:${reporterId}`, this.deps.limit ?? { capacity: 10, refillPerSecond: 10 / 3600 });
    if (!take.allowed) throw new AppError('RATE_LIMITED', 'You have sent many reports; try again later.', { retryAfterMs: take.retryAfterMs });
    const reason = cleanText(input.reason, { multiline: true }).trim();
    if (reason === '') throw new AppError('VALIDATION', 'Say what is wrong in the reason.');
    const target = await this.deps.targets.find[input.targetKind](input.targetId);
    if (!target) throw new AppError('NOT_FOUND', `There is no such ${input.targetKind.replace('-', ' ')} to report.`);
    let id: string;
    try {
      ({ id } = await this.deps.db
        .insertInto('reports')
        .values({ reporter_id: reporterId, target_kind: input.targetKind, target_id: input.targetId, target_user_id: target.ownerId, reason: reason.slice(0, 1000) })
        .returning('id')
        .executeTakeFirstOrThrow());
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError('ALREADY_REPORTED');
      throw err;
    }
    this.deps.log.info({ reportId: id, reporterId, targetKind: input.targetKind }, 'report filed');
    return (await this.list({ id }))[0]!;
  }

  /** The reporter's own reports, newest first, with their outcome. */
  mine(reporterId: string, limit: number): Promise<ReportView[]> {
    return this.list({ reporterId, limit });
  }

  /** The queue: open reports oldest first (or resolved ones, newest first). */
  queue(status: ReportStatus, limit: number): Promise<ReportView[]> {
    return this.list({ status, limit });
  }

  /**
   * Acts on a report. The report (and every other open report on the same target) is claimed
   * first, so two moderators never act twice; if the action fails, they are opened again.
   */
  async resolve(actor: Actor, reportId: string, input: ResolveAction): Promise<ReportView> {
    const { db } = this.deps;
    const report = await db.selectFrom('reports').selectAll().where('id', '=', reportId).executeTakeFirst();
    if (!report) throw new AppError('NOT_FOUND', 'No such report.');
    if (report.status !== 'open') throw new AppError('ALREADY_RESOLVED');
    const remove = this.deps.targets.remove[report.target_kind];
    if (input.action === 'delete-content' && !remove) throw new AppError('BAD_REQUEST', `A ${report.target_kind} cannot be deleted from a report; suspend its owner instead.`);
    if (input.action === 'suspend' && !report.target_user_id) throw new AppError('BAD_REQUEST', 'The reported content has no author left to suspend.');
    const status = STATUS_OF[input.action];
    const note = cleanText(input.note ?? '', { multiline: true }).slice(0, 1000);
    const claimed = await db
      .updateTable('reports')
      .set({ status, resolved_by: actor.id, resolved_at: new Date(), resolution_note: note })
      .where('status', '=', 'open')
      .where((eb) => (input.action === 'dismiss' ? eb('id', '=', reportId) : eb.and([eb('target_kind', '=', report.target_kind), eb('target_id', '=', report.target_id)])))
      .returning(['id', 'reporter_id'])
      .execute();
    if (!claimed.some((r) => r.id === reportId)) throw new AppError('ALREADY_RESOLVED');
    try {
      if (input.action === 'delete-content') await remove!(report.target_id, actor.id);
      if (input.action === 'suspend') await this.deps.suspend(actor, report.target_user_id!, input.suspension);
    } catch (err) {
      await db.updateTable('reports').set({ status: 'open', resolved_by: null, resolved_at: null, resolution_note: '' }).where('id', 'in', claimed.map((r) => r.id)).execute();
      throw err;
    }
    await writeAudit(db, { actorId: actor.id, action: `report-${input.action}`, targetUserId: report.target_user_id, targetKind: report.target_kind, targetId: report.target_id, details: { reportIds: claimed.map((r) => r.id), note } });
    this.deps.log.info({ actorId: actor.id, reportId, action: input.action, reports: claimed.length }, 'report resolved');
    for (const r of claimed) {
      if (!r.reporter_id) continue;
      const outcome: ReportOutcome = { reportId: r.id, targetKind: report.target_kind, targetId: report.target_id, status, note };
      await this.deps.notify(r.reporter_id, outcome).catch((err) => this.deps.log.error({ err, reportId: r.id }, 'telling the reporter failed'));
    }
    return (await this.list({ id: reportId }))[0]!;
  }

  private async list(filter: { id?: string; reporterId?: string; status?: ReportStatus; limit?: number }): Promise<ReportView[]> {
    let query = this.deps.db
      .selectFrom('reports as r')
      .leftJoin('users as reporter', 'reporter.id', 'r.reporter_id')
      .leftJoin('users as target', 'target.id', 'r.target_user_id')
      .select(['r.id', 'r.target_kind', 'r.target_id', 'r.reason', 'r.status', 'r.resolution_note', 'r.created_at', 'r.resolved_at', 'r.target_user_id', 'reporter.username as reporter', 'target.username as target_user'])
      .limit(filter.limit ?? 1);
    if (filter.id) query = query.where('r.id', '=', filter.id);
    if (filter.reporterId) query = query.where('r.reporter_id', '=', filter.reporterId).orderBy('r.created_at', 'desc');
    if (filter.status) query = query.where('r.status', '=', filter.status).orderBy('r.created_at', filter.status === 'open' ? 'asc' : 'desc');
    const rows = await query.orderBy('r.id').execute();
    return rows.map((r) => ({
      id: r.id,
      targetKind: r.target_kind,
      targetId: r.target_id,
      reason: r.reason,
      status: r.status,
      resolutionNote: r.resolution_note,
      createdAt: r.created_at,
      resolvedAt: r.resolved_at,
      reporter: r.reporter,
      targetUser: r.target_user,
      targetUserId: r.target_user_id,
    }));
  }
}
