// Full-text search over channels (name, title, tags, description) and videos (title, tags,
// description), on the generated tsvector columns and GIN indexes of sql/011, the same on
// PostgreSQL and PGlite. Plain words are matched as you type: every word whole except the last,
// which is a prefix ("spee" finds "speedrun"). A query using web-search syntax (quotes, -word, or)
// goes to websearch_to_tsquery as written, which never fails on odd input.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { AppError } from '../src/errors.ts';
import type { SocialDb } from './social-tables.ts';

export const SEARCH_MAX_CHARS = 200;
const MAX_WORDS = 12;
const WORD = /[\p{L}\p{N}_]+/gu;
const OPERATORS = /"|(^|\s)-\S|\sor\s/i;

export const CATEGORIES = ['just-chatting', 'gaming', 'music', 'art', 'science-and-tech', 'sports', 'education', 'irl', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface SearchFilters {
  q?: string;
  tag?: string;
  category?: string;
  limit: number;
}

/** The tsquery for `q` as SQL, or null when there is no query; a 4xx when it has no words at all. */
export function tsQuery(q: string | undefined): RawBuilder<unknown> | null {
  if (q === undefined || q.trim() === '') return null;
  const words = (q.match(WORD) ?? []).slice(0, MAX_WORDS);
  if (words.length === 0) throw new AppError('SEARCH_QUERY_INVALID');
  if (OPERATORS.test(q)) return sql`websearch_to_tsquery('simple', ${q})`;
  // Each word is letters, digits or _ only, so quoting it in tsquery syntax is safe.
  const text = words.map((w, i) => `'${w.toLowerCase()}'${i === words.length - 1 ? ':*' : ''}`).join(' & ');
  return sql`to_tsquery('simple', ${text})`;
}

export interface ChannelHit {
  slug: string;
  title: string;
  description: string;
  tags: string[];
  category: string;
  live: boolean;
}

export interface VideoHit {
  id: string;
  title: string;
  channel: { slug: string };
  startedAt: string;
  durationS: number;
  tags: string[];
  viewCount: number;
}

export async function searchChannels(db: Kysely<SocialDb>, filters: SearchFilters): Promise<ChannelHit[]> {
  const query = tsQuery(filters.q);
  const rows = await sql<{ slug: string; title: string; description: string; tags: string[]; category: string; live: boolean }>`
    select c.slug, c.title, c.description, c.tags, c.category,
      exists (select 1 from live_sessions s where s.channel_id = c.id and s.ended_at is null) as live
    from channels c
    where ${query ? sql`c.search_vector @@ ${query}` : sql`true`}
      and ${filters.tag ? sql`${filters.tag} = any (c.tags)` : sql`true`}
      and ${filters.category ? sql`c.category = ${filters.category}` : sql`true`}
    order by ${query ? sql`ts_rank(c.search_vector, ${query}) desc,` : sql``} live desc, c.slug
    limit ${filters.limit}`.execute(db);
  return rows.rows.map((r) => ({ ...r, live: Boolean(r.live) }));
}

/** Public, ready videos only: search never reveals an unlisted or private one. */
export async function searchVideos(db: Kysely<SocialDb>, filters: SearchFilters): Promise<VideoHit[]> {
  const query = tsQuery(filters.q);
  const rows = await sql<VideoRow>`
    select v.id, v.title, c.slug, v.started_at, v.duration_s, v.tags, coalesce(st.view_count, 0) as view_count
    from vods v join channels c on c.id = v.channel_id left join vod_stats st on st.vod_id = v.id
    where v.deleted_at is null and v.visibility = 'public' and v.status = 'ready'
      and ${query ? sql`v.search_vector @@ ${query}` : sql`true`}
      and ${filters.tag ? sql`${filters.tag} = any (v.tags)` : sql`true`}
    order by ${query ? sql`ts_rank(v.search_vector, ${query}) desc,` : sql``} v.started_at desc, v.id
    limit ${filters.limit}`.execute(db);
  return rows.rows.map(toVideoHit);
}

/** Public videos by views in the last 48 hours. */
export async function trendingVideos(db: Kysely<SocialDb>, limit: number): Promise<Array<VideoHit & { recentViews: number }>> {
  const since = new Date(Date.now() - 48 * 3_600_000);
  const rows = await sql<VideoRow & { recent: string | number }>`
    select v.id, v.title, c.slug, v.started_at, v.duration_s, v.tags, coalesce(st.view_count, 0) as view_count, h.recent
    from (select vod_id, sum(views) as recent from vod_view_hours where hour >= ${since} group by vod_id) h
    join vods v on v.id = h.vod_id join channels c on c.id = v.channel_id left join vod_stats st on st.vod_id = v.id
    where v.deleted_at is null and v.visibility = 'public' and v.status = 'ready'
    order by h.recent desc, v.started_at desc
    limit ${limit}`.execute(db);
  return rows.rows.map((r) => ({ ...toVideoHit(r), recentViews: Number(r.recent) }));
}

/** Each category with how many of its channels are live now. */
export async function categoryCounts(db: Kysely<SocialDb>): Promise<Array<{ name: Category; live: number }>> {
  const rows = await sql<{ category: string; n: string | number }>`
    select c.category, count(*) as n from channels c
    where c.category <> '' and exists (select 1 from live_sessions s where s.channel_id = c.id and s.ended_at is null)
    group by c.category`.execute(db);
  const live = new Map(rows.rows.map((r) => [r.category, Number(r.n)]));
  return CATEGORIES.map((name) => ({ name, live: live.get(name) ?? 0 }));
}

interface VideoRow {
  id: string;
  title: string;
  slug: string;
  started_at: Date;
  duration_s: number;
  tags: string[];
  view_count: string | number;
}

function toVideoHit(r: VideoRow): VideoHit {
  return {
    id: r.id,
    title: r.title,
    channel: { slug: r.slug },
    startedAt: new Date(r.started_at).toISOString(),
    durationS: r.duration_s,
    tags: r.tags,
    viewCount: Number(r.view_count),
  };
}
