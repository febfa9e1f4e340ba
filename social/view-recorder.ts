// View counts and watch positions, written in batches: 1,000 viewers reporting every few seconds
// are a handful of statements per flush, not 1,000 writes a second. A view counts once per viewer
// and video per 30 minutes; that check is a token bucket kept by the bus's backend (Redis), so
// every node agrees on it. Counts and positions wait in memory for the next flush (at most
// `flushMs`): a crash loses that much, never more.
import { sql, type Kysely } from 'kysely';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { Logger } from '../src/log.ts';
import type { SocialDb } from './social-tables.ts';

export const VIEW_WINDOW_S = 30 * 60;
/** Rows per statement: keeps one flush's statements well under parameter limits. */
const BATCH_ROWS = 1000;

export interface ViewRecorderOptions {
  db: Kysely<SocialDb>;
  limiter: RateLimiter;
  log: Logger;
  flushMs: number;
}

export interface ViewRecorderStats {
  /** Statements written to the database since start. */
  writes: number;
  viewsCounted: number;
  positionsReported: number;
}

export class ViewRecorder {
  private views = new Map<string, number>();
  private positions = new Map<string, { userId: string; vodId: string; positionS: number }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  readonly stats: ViewRecorderStats = { writes: 0, viewsCounted: 0, positionsReported: 0 };

  constructor(private readonly opts: ViewRecorderOptions) {
    this.timer = setInterval(() => void this.flush(), opts.flushMs).unref();
  }

  /** Counts a view unless this viewer was counted for this video in the last 30 minutes. */
  async view(vodId: string, viewerKey: string): Promise<boolean> {
    const seen = await this.opts.limiter.take(`social:view:${vodId}:${viewerKey}`, { capacity: 1, refillPerSecond: 1 / VIEW_WINDOW_S });
    if (!seen.allowed) return false;
    this.views.set(vodId, (this.views.get(vodId) ?? 0) + 1);
    this.stats.viewsCounted++;
    return true;
  }

  position(userId: string, vodId: string, positionS: number): void {
    this.positions.set(`${userId}/${vodId}`, { userId, vodId, positionS });
    this.stats.positionsReported++;
  }

  /** A position reported to this node and not yet written, so a resume right after a report is exact. */
  pendingPosition(userId: string, vodId: string): number | null {
    return this.positions.get(`${userId}/${vodId}`)?.positionS ?? null;
  }

  forget(userId: string, vodId?: string): void {
    for (const [key, p] of this.positions) if (p.userId === userId && (!vodId || p.vodId === vodId)) this.positions.delete(key);
  }

  /** Writes what has accumulated; concurrent calls wait for one another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write()).catch((err) => this.opts.log.error({ err }, 'writing views and positions failed'));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    const views = [...this.views];
    const positions = [...this.positions.values()];
    this.views = new Map();
    this.positions = new Map();
    const { db } = this.opts;
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
    for (let i = 0; i < views.length; i += BATCH_ROWS) {
      const rows = sql.join(views.slice(i, i + BATCH_ROWS).map(([vodId, n]) => sql`(${vodId}::uuid, ${n}::int)`));
      // Joined with vods: a video deleted meanwhile is skipped instead of failing the batch.
      await sql`
        with v(vod_id, n) as (values ${rows}), live as (select v.* from v join vods on vods.id = v.vod_id),
        hours as (
          insert into vod_view_hours (vod_id, hour, views) select vod_id, ${hour}, n from live
          on conflict (vod_id, hour) do update set views = vod_view_hours.views + excluded.views
        )
        insert into vod_stats (vod_id, view_count) select vod_id, n from live
        on conflict (vod_id) do update set view_count = vod_stats.view_count + excluded.view_count`.execute(db);
      this.stats.writes++;
    }
    for (let i = 0; i < positions.length; i += BATCH_ROWS) {
      const rows = sql.join(positions.slice(i, i + BATCH_ROWS).map((p) => sql`(${p.userId}::uuid, ${p.vodId}::uuid, ${p.positionS}::float8)`));
      await sql`
        insert into watch_history (user_id, vod_id, position_s, updated_at)
        select v.user_id, v.vod_id, v.position_s, now() from (values ${rows}) as v(user_id, vod_id, position_s)
        join vods on vods.id = v.vod_id join users on users.id = v.user_id
        where not exists (select 1 from watch_history_paused p where p.user_id = v.user_id)
        on conflict (user_id, vod_id) do update set position_s = excluded.position_s, updated_at = excluded.updated_at`.execute(db);
      this.stats.writes++;
    }
  }
}
