// Follows: PUT/DELETE /api/v1/channels/:slug/follow, and the signed-in user's followed channels
// with which are live now (GET /api/v1/me/following), for the home page's "Following" section.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import type { SocialDb } from './social-tables.ts';
import { takeWrite } from './write-limit.ts';

export interface FollowRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  channels: Pick<ChannelService, 'bySlug'>;
  limiter: RateLimiter;
}

export async function followerCount(db: Kysely<SocialDb>, channelId: string): Promise<number> {
  const row = await db.selectFrom('channel_stats').select('follower_count').where('channel_id', '=', channelId).executeTakeFirst();
  return row?.follower_count ?? 0;
}

/** Follows or unfollows, changing the count in the same transaction only when a row changed. */
async function setFollowing(db: Kysely<SocialDb>, userId: string, channelId: string, follow: boolean): Promise<{ changed: boolean; followerCount: number }> {
  return db.transaction().execute(async (trx) => {
    const changed = follow
      ? !!(await trx.insertInto('follows').values({ user_id: userId, channel_id: channelId }).onConflict((oc) => oc.doNothing()).returning('user_id').executeTakeFirst())
      : !!(await trx.deleteFrom('follows').where('user_id', '=', userId).where('channel_id', '=', channelId).returning('user_id').executeTakeFirst());
    if (!changed) return { changed, followerCount: await followerCount(trx, channelId) };
    const row = await trx
      .insertInto('channel_stats')
      .values({ channel_id: channelId, follower_count: follow ? 1 : 0 })
      .onConflict((oc) => oc.column('channel_id').doUpdateSet({ follower_count: sql<number>`greatest(0, channel_stats.follower_count + ${follow ? 1 : -1})` }))
      .returning('follower_count')
      .executeTakeFirstOrThrow();
    return { changed, followerCount: row.follower_count };
  });
}

export async function isFollowing(db: Kysely<SocialDb>, userId: string, channelId: string): Promise<boolean> {
  return !!(await db.selectFrom('follows').select('user_id').where('user_id', '=', userId).where('channel_id', '=', channelId).executeTakeFirst());
}

const FollowState = Type.Object({ following: Type.Boolean(), followerCount: Type.Integer() });

export const followRoutes: FastifyPluginAsync<FollowRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = opts;
  const auth = requireUser(opts.accounts);
  const channelOf = async (slug: string) => {
    const channel = await opts.channels.bySlug(slug);
    if (!channel) throw new AppError('NOT_FOUND', 'No such channel.');
    return channel;
  };

  app.put(
    '/channels/:slug/follow',
    {
      preHandler: auth,
      schema: { tags: ['social'], summary: 'Follow a channel.', security: [{ bearer: [] }], params: Type.Object({ slug: Slug }), response: { 200: FollowState, ...errors(400, 401, 404, 409, 429) } },
    },
    async (request) => {
      const user = currentUser(request);
      const channel = await channelOf(request.params.slug);
      if (channel.ownerId === user.id) throw new AppError('CANNOT_FOLLOW_SELF');
      await takeWrite(opts.limiter, 'follow', user.id);
      const result = await setFollowing(db, user.id, channel.id, true);
      if (!result.changed) throw new AppError('ALREADY_FOLLOWING');
      return { following: true, followerCount: result.followerCount };
    },
  );

  app.delete(
    '/channels/:slug/follow',
    {
      preHandler: auth,
      schema: { tags: ['social'], summary: 'Stop following a channel (no error if you did not).', security: [{ bearer: [] }], params: Type.Object({ slug: Slug }), response: { 200: FollowState, ...errors(400, 401, 404) } },
    },
    async (request) => {
      const user = currentUser(request);
      const channel = await channelOf(request.params.slug);
      return { following: false, followerCount: (await setFollowing(db, user.id, channel.id, false)).followerCount };
    },
  );

  app.get(
    '/me/following',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'Channels the signed-in user follows, live ones first.',
        security: [{ bearer: [] }],
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 100 }) }),
        response: {
          200: Type.Object({ channels: Type.Array(Type.Object({ slug: Type.String(), title: Type.String(), live: Type.Boolean(), followedAt: Type.String({ format: 'date-time' }) })) }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const rows = await db
        .selectFrom('follows')
        .innerJoin('channels', 'channels.id', 'follows.channel_id')
        .select(['channels.slug', 'channels.title', 'follows.created_at'])
        // live_sessions, not this node's live manager: the stream may be ingested by another node.
        .select((eb) => eb.exists(eb.selectFrom('live_sessions').select('id').whereRef('live_sessions.channel_id', '=', 'channels.id').where('live_sessions.ended_at', 'is', null)).as('live'))
        .where('follows.user_id', '=', currentUser(request).id)
        .orderBy('follows.created_at', 'desc')
        .limit(request.query.limit)
        .execute();
      const channels = rows.map((r) => ({ slug: r.slug, title: r.title, live: Boolean(r.live), followedAt: r.created_at.toISOString() }));
      channels.sort((a, b) => Number(b.live) - Number(a.live));
      return { channels };
    },
  );
};
