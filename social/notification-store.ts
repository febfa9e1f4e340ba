// In-app notifications: stored per user, listed newest first with an unread count, marked read.
// Fan-out inserts a channel's followers' rows a batch at a time, in user_id order, with one
// INSERT … SELECT per batch; the unique (user, kind, subject) makes a retried batch harmless.
import { sql, type Kysely } from 'kysely';
import type { NotificationKind, ReportNoticeDetails, SocialDb } from './social-tables.ts';

export const FANOUT_BATCH = 5000;

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  /** The channel that went live or published; null for kind 'report'. */
  channel: { slug: string; title: string } | null;
  /** The live session (kind 'live'), the video (kind 'video') or the report (kind 'report'). */
  subjectId: string;
  /** The video's title for kind 'video'; null otherwise. */
  videoTitle: string | null;
  /** The outcome of the user's report, for kind 'report'; null otherwise. */
  report: ReportNoticeDetails | null;
  createdAt: string;
  read: boolean;
}

export class NotificationStore {
  constructor(private readonly db: Kysely<SocialDb>) {}

  /**
   * Notifies the followers of `channelId` with user_id after `afterUserId`, at most `batch` of
   * them; returns the last follower handled (the next call's cursor), or null when none were left.
   */
  async fanOutBatch(channelId: string, kind: NotificationKind, subjectId: string, afterUserId: string | null, batch = FANOUT_BATCH): Promise<{ last: string | null; inserted: number }> {
    const after = afterUserId ?? '00000000-0000-0000-0000-000000000000';
    const result = await sql<{ last: string | null; inserted: string | number }>`
      with batch as (
        select user_id from follows where channel_id = ${channelId} and user_id > ${after}::uuid order by user_id limit ${batch}
      ), ins as (
        insert into notifications (user_id, kind, channel_id, subject_id)
        select user_id, ${kind}, ${channelId}, ${subjectId} from batch
        on conflict (user_id, kind, subject_id) do nothing
        returning 1
      )
      select (select user_id::text from batch order by user_id desc limit 1) as last, (select count(*) from ins) as inserted`.execute(this.db);
    const row = result.rows[0]!;
    return { last: row.last, inserted: Number(row.inserted) };
  }

  /** One user's notification about one subject (a report's outcome); false when it was already there. */
  async notifyOne(userId: string, kind: NotificationKind, subjectId: string, details: ReportNoticeDetails | null): Promise<boolean> {
    const row = await this.db
      .insertInto('notifications')
      .values({ user_id: userId, kind, channel_id: null, subject_id: subjectId, details: details === null ? null : JSON.stringify(details) })
      .onConflict((oc) => oc.columns(['user_id', 'kind', 'subject_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async list(userId: string, limit: number, before?: string): Promise<{ notifications: NotificationView[]; unread: number; nextCursor: string | null }> {
    let query = this.viewQuery().where('notifications.user_id', '=', userId);
    if (before) query = query.where(sql<boolean>`(notifications.created_at, notifications.id) < (select n.created_at, n.id from notifications n where n.id = ${before})`);
    const rows = await query.orderBy('notifications.created_at', 'desc').orderBy('notifications.id', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit).map(toView);
    return { notifications: page, unread: await this.unread(userId), nextCursor: rows.length > limit ? page.at(-1)!.id : null };
  }

  /** The user's notifications about one subject (for the push to their open pages). */
  async forSubject(userIds: string[], kind: NotificationKind, subjectId: string): Promise<Array<NotificationView & { userId: string }>> {
    if (userIds.length === 0) return [];
    const rows = await this.viewQuery().select('notifications.user_id').where('notifications.user_id', 'in', userIds).where('notifications.kind', '=', kind).where('notifications.subject_id', '=', subjectId).execute();
    return rows.map((r) => ({ ...toView(r), userId: r.user_id }));
  }

  /** Unread counts of several users in one query (users with none are absent). */
  async unreadOf(userIds: string[]): Promise<Map<string, number>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('notifications')
      .select(['user_id', (eb) => eb.fn.countAll<string | number>().as('n')])
      .where('user_id', 'in', userIds)
      .where('read_at', 'is', null)
      .groupBy('user_id')
      .execute();
    return new Map(rows.map((r) => [r.user_id, Number(r.n)]));
  }

  async unread(userId: string): Promise<number> {
    const row = await this.db.selectFrom('notifications').select((eb) => eb.fn.countAll<string | number>().as('n')).where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Marks the given notifications (or all of them) read; returns the unread count after. */
  async markRead(userId: string, ids: string[] | 'all'): Promise<number> {
    let query = this.db.updateTable('notifications').set({ read_at: new Date() }).where('user_id', '=', userId).where('read_at', 'is', null);
    if (ids !== 'all') {
      if (ids.length === 0) return this.unread(userId);
      query = query.where('id', 'in', ids);
    }
    await query.execute();
    return this.unread(userId);
  }

  private viewQuery() {
    return this.db
      .selectFrom('notifications')
      .leftJoin('channels', 'channels.id', 'notifications.channel_id')
      .leftJoin('vods', (join) => join.onRef('vods.id', '=', 'notifications.subject_id').on('notifications.kind', '=', 'video'))
      .select(['notifications.id', 'notifications.kind', 'notifications.subject_id', 'notifications.created_at', 'notifications.read_at', 'notifications.details', 'channels.slug', 'channels.title', 'vods.title as video_title']);
  }
}

type ViewRow = {
  id: string;
  kind: NotificationKind;
  subject_id: string;
  created_at: Date;
  read_at: Date | null;
  details: ReportNoticeDetails | null;
  slug: string | null;
  title: string | null;
  video_title: string | null;
};

function toView(r: ViewRow): NotificationView {
  return {
    id: r.id,
    kind: r.kind,
    channel: r.slug === null ? null : { slug: r.slug, title: r.title ?? '' },
    subjectId: r.subject_id,
    videoTitle: r.kind === 'video' ? r.video_title : null,
    report: r.kind === 'report' ? r.details : null,
    createdAt: r.created_at.toISOString(),
    read: r.read_at !== null,
  };
}
