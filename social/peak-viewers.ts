// Live streams gain a peak: every few seconds the concurrent viewers of this node's live sessions
// are compared with the stored peak, all sessions in one statement.
import { sql, type Kysely } from 'kysely';
import type { Logger } from '../src/log.ts';
import type { SocialDb } from './social-tables.ts';

export interface PeakSource {
  /** Live sessions this node owns, with their concurrent viewers now. */
  sessions(): Array<{ id: string; viewers: number }>;
}

export class PeakViewers {
  private readonly timer: NodeJS.Timeout;
  private readonly best = new Map<string, number>();

  constructor(private readonly deps: { db: Kysely<SocialDb>; source: PeakSource; log: Logger; intervalMs: number }) {
    this.timer = setInterval(() => void this.sample().catch((err) => deps.log.warn({ err }, 'recording peak viewers failed')), deps.intervalMs).unref();
  }

  async sample(): Promise<void> {
    const sessions = this.deps.source.sessions();
    const live = new Set(sessions.map((s) => s.id));
    for (const id of this.best.keys()) if (!live.has(id)) this.best.delete(id);
    // Only sessions whose peak went up since the last write cost a row.
    const higher = sessions.filter((s) => s.viewers > (this.best.get(s.id) ?? 0));
    if (higher.length === 0) return;
    await sql`
      insert into live_session_peaks (live_session_id, peak_viewers)
      select v.id, v.n from (values ${sql.join(higher.map((s) => sql`(${s.id}::uuid, ${s.viewers}::int)`))}) as v(id, n)
      join live_sessions on live_sessions.id = v.id
      on conflict (live_session_id) do update set peak_viewers = greatest(live_session_peaks.peak_viewers, excluded.peak_viewers)`.execute(this.deps.db);
    for (const s of higher) this.best.set(s.id, s.viewers);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
