// Views and watch history. The player reports a view once it has played 10 s
// (POST /api/v1/vods/:id/views) and its position every few seconds while signed in
// (PUT /api/v1/me/history/:vodId); the VOD page offers to resume from it. Users list, clear and
// pause their history under /api/v1/me/history.
import { createHmac } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import { narrow } from '../src/db/narrow.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { errors } from '../src/http/schemas.ts';
import { findVisibleVod } from '../vod/vod-query.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import type { SocialDb } from './social-tables.ts';
import type { ViewRecorder } from './view-recorder.ts';

export interface HistoryRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  limiter: RateLimiter;
  recorder: ViewRecorder;
  /** HMAC key for anonymous viewer keys (ServerKeys.viewerHash). */
  viewerHashKey: Buffer;
}

/** Seconds of playback before a view counts. */
export const VIEW_AFTER_S = 10;
const VIEWER_COOKIE = 'sw_viewer';
const COOKIE_VALUE = /^[A-Za-z0-9_-]{22}$/;
const Uuid = Type.String({ format: 'uuid' });
// Positions are seconds into a video; 48 h is far beyond any recording's length.
const Position = Type.Number({ minimum: 0, maximum: 172_800 });

function cookieValue(request: FastifyRequest): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === VIEWER_COOKIE && value && COOKIE_VALUE.test(value)) return value;
  }
  return null;
}

export const historyRoutes: FastifyPluginAsync<HistoryRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, recorder } = opts;
  const auth = requireUser(opts.accounts);
  const vodDb = narrow(db).to<VodDb>();

  /**
   * Who is viewing, hashed: the account, else the viewer cookie. A client without one is known by
   * a hash of its address and agent, which also becomes its cookie, so its next report (cookie
   * and all) is the same viewer.
   */
  const viewerKey = (request: FastifyRequest, reply: FastifyReply, userId: string | null): string => {
    const hash = (text: string) => createHmac('sha256', opts.viewerHashKey).update(text).digest('base64url');
    if (userId) return hash(`user:${userId}`);
    let cookie = cookieValue(request);
    if (!cookie) {
      cookie = hash(`addr:${request.ip}\n${request.headers['user-agent'] ?? ''}`).slice(0, 22);
      reply.header('set-cookie', `${VIEWER_COOKIE}=${cookie}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax`);
    }
    return hash(`viewer:${cookie}`);
  };

  app.post(
    '/vods/:id/views',
    {
      schema: {
        tags: ['social'],
        summary: `Report a view once the player has played ${VIEW_AFTER_S} s; counted once per viewer and video per 30 minutes.`,
        params: Type.Object({ id: Uuid }),
        body: Type.Object({ playedS: Type.Number({ minimum: 0, maximum: 172_800 }) }, { additionalProperties: false }),
        response: { 202: Type.Object({ counted: Type.Boolean() }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const { vod, viewer } = await findVisibleVod(vodDb, opts.accounts, request, request.params.id);
      if (request.body.playedS < VIEW_AFTER_S) throw new AppError('VALIDATION', `A view counts after ${VIEW_AFTER_S} s of playback.`);
      // Anonymous viewers can mint cookies: one address may report many views (a household, a
      // campus), not unboundedly many. An account is its own identity and needs no such cap.
      if (!viewer) {
        const perAddress = await opts.limiter.take(`social:views-by-address:${request.ip}`, { capacity: 200, refillPerSecond: 200 / 3600 });
        if (!perAddress.allowed) throw new AppError('RATE_LIMITED', undefined, { retryAfterMs: perAddress.retryAfterMs });
      }
      const counted = await recorder.view(vod.id, viewerKey(request, reply, viewer?.id ?? null));
      return reply.status(202).send({ counted });
    },
  );

  app.put(
    '/me/history/:vodId',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'The player reports where the signed-in viewer is in a video (every few seconds while playing).',
        security: [{ bearer: [] }],
        params: Type.Object({ vodId: Uuid }),
        body: Type.Object({ positionS: Position }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const { vod } = await findVisibleVod(vodDb, opts.accounts, request, request.params.vodId);
      // A player reports every few seconds; a client reporting ten times a second is refused.
      const rate = await opts.limiter.take(`social:position:${user.id}`, { capacity: 20, refillPerSecond: 2 });
      if (!rate.allowed) throw new AppError('RATE_LIMITED', undefined, { retryAfterMs: rate.retryAfterMs });
      recorder.position(user.id, vod.id, request.body.positionS);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me/history',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'Videos the signed-in user watched, most recent first, with where they stopped.',
        security: [{ bearer: [] }],
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 30 }), before: Type.Optional(Type.String({ format: 'date-time' })) }),
        response: {
          200: Type.Object({
            paused: Type.Boolean(),
            items: Type.Array(
              Type.Object({
                vod: Type.Object({ id: Type.String(), title: Type.String(), channel: Type.Object({ slug: Type.String() }), durationS: Type.Number() }),
                positionS: Type.Number(),
                watchedAt: Type.String({ format: 'date-time' }),
              }),
            ),
            nextBefore: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const user = currentUser(request);
      await recorder.flush();
      let query = db
        .selectFrom('watch_history')
        .innerJoin('vods', 'vods.id', 'watch_history.vod_id')
        .innerJoin('channels', 'channels.id', 'vods.channel_id')
        .select(['vods.id', 'vods.title', 'vods.duration_s', 'channels.slug', 'watch_history.position_s', 'watch_history.updated_at'])
        .where('watch_history.user_id', '=', user.id)
        .where('vods.deleted_at', 'is', null)
        // A video made private since is no longer listed (unless it is the user's own).
        .where((eb) => eb.or([eb('vods.visibility', '<>', 'private'), eb('channels.owner_id', '=', user.id)]));
      if (request.query.before) query = query.where('watch_history.updated_at', '<', new Date(request.query.before));
      const rows = await query.orderBy('watch_history.updated_at', 'desc').limit(request.query.limit + 1).execute();
      const page = rows.slice(0, request.query.limit);
      const paused = !!(await db.selectFrom('watch_history_paused').select('user_id').where('user_id', '=', user.id).executeTakeFirst());
      return {
        paused,
        items: page.map((r) => ({ vod: { id: r.id, title: r.title, channel: { slug: r.slug }, durationS: r.duration_s }, positionS: r.position_s, watchedAt: r.updated_at.toISOString() })),
        nextBefore: rows.length > request.query.limit ? page.at(-1)!.updated_at.toISOString() : null,
      };
    },
  );

  app.delete(
    '/me/history',
    { preHandler: auth, schema: { tags: ['social'], summary: 'Clear the watch history.', security: [{ bearer: [] }], response: { 204: Type.Null(), ...errors(401) } } },
    async (request, reply) => {
      const user = currentUser(request);
      recorder.forget(user.id);
      await db.deleteFrom('watch_history').where('user_id', '=', user.id).execute();
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/me/history/:vodId',
    {
      preHandler: auth,
      schema: { tags: ['social'], summary: 'Remove one video from the watch history.', security: [{ bearer: [] }], params: Type.Object({ vodId: Uuid }), response: { 204: Type.Null(), ...errors(400, 401) } },
    },
    async (request, reply) => {
      const user = currentUser(request);
      recorder.forget(user.id, request.params.vodId);
      await db.deleteFrom('watch_history').where('user_id', '=', user.id).where('vod_id', '=', request.params.vodId).execute();
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/me/history-paused',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'Pause (true) or resume (false) recording the watch history.',
        security: [{ bearer: [] }],
        body: Type.Object({ paused: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ paused: Type.Boolean() }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const user = currentUser(request);
      if (request.body.paused) {
        recorder.forget(user.id);
        await db.insertInto('watch_history_paused').values({ user_id: user.id }).onConflict((oc) => oc.doNothing()).execute();
      } else {
        await db.deleteFrom('watch_history_paused').where('user_id', '=', user.id).execute();
      }
      return { paused: request.body.paused };
    },
  );
};

/** Where the user stopped in a video: a report not yet written on this node wins over the stored one. */
export async function resumePosition(db: Kysely<SocialDb>, recorder: ViewRecorder, userId: string, vodId: string): Promise<number | null> {
  const pending = recorder.pendingPosition(userId, vodId);
  if (pending !== null) return pending;
  const row = await db.selectFrom('watch_history').select('position_s').where('user_id', '=', userId).where('vod_id', '=', vodId).executeTakeFirst();
  return row?.position_s ?? null;
}
