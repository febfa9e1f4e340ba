// Search and browse: GET /api/v1/search, /api/v1/trending, /api/v1/categories; and what makes a
// channel or video findable, set by its owner: tags and a category on the channel (the live
// stream's category), tags and a description on a video.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { narrow } from '../src/db/narrow.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import { cleanText } from '../src/text/clean-text.ts';
import { findVisibleVod } from '../vod/vod-query.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import { CATEGORIES, SEARCH_MAX_CHARS, categoryCounts, searchChannels, searchVideos, trendingVideos } from './search-query.ts';
import type { SocialDb } from './social-tables.ts';

export interface SearchRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  channels: Pick<ChannelService, 'requireOwned'>;
}

const MAX_TAGS = 10;
const Tag = Type.String({ minLength: 1, maxLength: 30 });
const Tags = Type.Array(Tag, { maxItems: MAX_TAGS });
const Category = Type.Union(CATEGORIES.map((c) => Type.Literal(c)));
const ChannelHit = Type.Object({ slug: Type.String(), title: Type.String(), description: Type.String(), tags: Type.Array(Type.String()), category: Type.String(), live: Type.Boolean() });
const VideoHit = Type.Object({
  id: Type.String(),
  title: Type.String(),
  channel: Type.Object({ slug: Type.String() }),
  startedAt: Type.String({ format: 'date-time' }),
  durationS: Type.Number(),
  tags: Type.Array(Type.String()),
  viewCount: Type.Integer(),
});

/** Tags as stored: cleaned, lower-case, letters/digits/-/_ joined by single hyphens, distinct. */
export function normaliseTags(tags: string[]): string[] {
  const out = new Set<string>();
  for (const raw of tags) {
    const tag = cleanText(raw).toLowerCase().replace(/[^\p{L}\p{N}_-]+/gu, '-').replace(/^-+|-+$/g, '');
    if (tag) out.add(tag);
  }
  return [...out];
}

export const searchRoutes: FastifyPluginAsync<SearchRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = opts;
  const auth = requireUser(opts.accounts);

  app.get(
    '/search',
    {
      schema: {
        tags: ['social'],
        summary: 'Search channels and public videos (as you type: the last word is a prefix). Filter by tag, or channels by category.',
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: SEARCH_MAX_CHARS })),
          type: Type.Union([Type.Literal('all'), Type.Literal('channels'), Type.Literal('videos')], { default: 'all' }),
          tag: Type.Optional(Tag),
          category: Type.Optional(Category),
          limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
        }),
        response: { 200: Type.Object({ channels: Type.Array(ChannelHit), videos: Type.Array(VideoHit) }), ...errors(400) },
      },
    },
    async (request) => {
      const { q, type, tag, category, limit } = request.query;
      if (!q?.trim() && !tag && !category) throw new AppError('SEARCH_QUERY_INVALID', 'Give words to search for (q), a tag or a category.');
      const filters = { q, tag: tag ? normaliseTags([tag])[0] : undefined, category, limit };
      const channels = type !== 'videos' ? await searchChannels(db, filters) : [];
      // A category belongs to channels (their live stream); videos are not filtered by it.
      const videos = type !== 'channels' && !category ? await searchVideos(db, filters) : [];
      return { channels, videos };
    },
  );

  app.get(
    '/trending',
    {
      schema: {
        tags: ['social'],
        summary: 'Public videos with the most views in the last 48 hours.',
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 50, default: 12 }) }),
        response: { 200: Type.Object({ videos: Type.Array(Type.Object({ ...VideoHit.properties, recentViews: Type.Integer() })) }), ...errors(400) },
      },
    },
    async (request) => ({ videos: await trendingVideos(db, request.query.limit) }),
  );

  app.get(
    '/categories',
    { schema: { tags: ['social'], summary: 'Stream categories, with how many channels are live in each.', response: { 200: Type.Object({ categories: Type.Array(Type.Object({ name: Type.String(), live: Type.Integer() })) }) } } },
    async () => ({ categories: await categoryCounts(db) }),
  );

  app.put(
    '/channels/:slug/discovery',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: "Owner: the channel's tags and its live stream's category ('' for none).",
        security: [{ bearer: [] }],
        params: Type.Object({ slug: Slug }),
        body: Type.Object({ tags: Tags, category: Type.Union([Category, Type.Literal('')]) }, { additionalProperties: false }),
        response: { 200: Type.Object({ tags: Type.Array(Type.String()), category: Type.String() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const tags = normaliseTags(request.body.tags);
      await sql`update channels set tags = ${tags}::text[], category = ${request.body.category} where id = ${channel.id}`.execute(db);
      return { tags, category: request.body.category };
    },
  );

  app.put(
    '/vods/:id/discovery',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: "Owner: a video's description and tags.",
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        body: Type.Object({ description: Type.String({ maxLength: 5000 }), tags: Tags }, { additionalProperties: false }),
        response: { 200: Type.Object({ description: Type.String(), tags: Type.Array(Type.String()) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { vod } = await findVisibleVod(narrow(db).to<VodDb>(), opts.accounts, request, request.params.id);
      if (vod.owner_id !== currentUser(request).id) throw new AppError('FORBIDDEN', 'Only the channel owner may change this video.');
      const tags = normaliseTags(request.body.tags);
      const description = cleanText(request.body.description, { multiline: true });
      await sql`update vods set tags = ${tags}::text[], description = ${description} where id = ${vod.id}`.execute(db);
      return { description, tags };
    },
  );
};
