// What social/ adds to other rooms' API bodies: a channel's followers (and whether the viewer is
// one), tags, category and the live stream's peak viewers; a video's counts, the viewer's like
// and where they stopped watching. main.ts hands these to the channel and VOD routes.
import { sql, type Kysely } from 'kysely';
import { resumePosition } from './history-routes.ts';
import { followerCount, isFollowing } from './follow-routes.ts';
import type { SocialDb } from './social-tables.ts';
import type { ViewRecorder } from './view-recorder.ts';

export async function channelInfo(db: Kysely<SocialDb>, channelId: string, viewerId: string | null): Promise<Record<string, unknown>> {
  const [count, following, meta, peak] = await Promise.all([
    followerCount(db, channelId),
    viewerId ? isFollowing(db, viewerId, channelId) : Promise.resolve(false),
    sql<{ tags: string[]; category: string }>`select tags, category from channels where id = ${channelId}`.execute(db),
    db
      .selectFrom('live_sessions')
      .innerJoin('live_session_peaks', 'live_session_peaks.live_session_id', 'live_sessions.id')
      .select('live_session_peaks.peak_viewers')
      .where('live_sessions.channel_id', '=', channelId)
      .where('live_sessions.ended_at', 'is', null)
      .executeTakeFirst(),
  ]);
  return {
    followerCount: count,
    ...(viewerId ? { following } : {}),
    tags: meta.rows[0]?.tags ?? [],
    category: meta.rows[0]?.category ?? '',
    ...(peak ? { peakViewers: peak.peak_viewers } : {}),
  };
}

export async function vodInfo(db: Kysely<SocialDb>, recorder: ViewRecorder, vodIds: string[], viewerId: string | null): Promise<Map<string, Record<string, unknown>>> {
  const rows = await sql<{ id: string; description: string; tags: string[]; like_count: number | null; comment_count: number | null; view_count: string | number | null; liked: boolean }>`
    select v.id, v.description, v.tags, s.like_count, s.comment_count, s.view_count,
      ${viewerId ? sql`exists (select 1 from vod_likes l where l.vod_id = v.id and l.user_id = ${viewerId})` : sql`false`} as liked
    from vods v left join vod_stats s on s.vod_id = v.id
    where v.id in (${sql.join(vodIds)})`.execute(db);
  const out = new Map<string, Record<string, unknown>>();
  for (const r of rows.rows) {
    out.set(r.id, {
      description: r.description,
      tags: r.tags,
      likeCount: r.like_count ?? 0,
      commentCount: r.comment_count ?? 0,
      viewCount: Number(r.view_count ?? 0),
      ...(viewerId ? { liked: Boolean(r.liked) } : {}),
    });
  }
  // Only for a single video (its page): a listing does not need every resume point.
  if (viewerId && vodIds.length === 1) {
    const entry = out.get(vodIds[0]!);
    if (entry) entry.resumeAtS = await resumePosition(db, recorder, viewerId, vodIds[0]!);
  }
  return out;
}
