// PUT/DELETE /api/v1/vods/:id/like and /api/v1/vods/:id/comments/:commentId/like. A second like
// is a 409 that changes nothing; an unlike of something not liked is a no-op.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { BucketSpec, RateLimiter } from '../src/bus/rate-limiter.ts';
import { narrow } from '../src/db/narrow.ts';
import { AppError } from '../src/errors.ts';
import { errors } from '../src/http/schemas.ts';
import { findVisibleVod } from '../vod/vod-query.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import { LikeStore } from './like-store.ts';
import type { SocialDb } from './social-tables.ts';
import { takeWrite, type WriteKind } from './write-limit.ts';

export interface LikeRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  limiter: RateLimiter;
  writeLimits?: Partial<Record<WriteKind, BucketSpec>>;
}

const Uuid = Type.String({ format: 'uuid' });
const LikeState = Type.Object({ liked: Type.Boolean(), likeCount: Type.Integer() });

export const likeRoutes: FastifyPluginAsync<LikeRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const likes = new LikeStore(opts.db);
  const vodDb = narrow(opts.db).to<VodDb>();
  const signedIn = async (request: FastifyRequest, id: string) => {
    const { vod, viewer } = await findVisibleVod(vodDb, opts.accounts, request, id);
    if (!viewer) throw new AppError('UNAUTHENTICATED');
    return { vod, viewer };
  };
  const liveComment = async (vodId: string, commentId: string) => {
    const row = await opts.db.selectFrom('comments').select(['id', 'deleted_at']).where('id', '=', commentId).where('vod_id', '=', vodId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such comment on this video.');
    if (row.deleted_at) throw new AppError('COMMENT_DELETED');
    return row.id;
  };
  const schema = (summary: string, withComment: boolean) => ({
    tags: ['social'],
    summary,
    security: [{ bearer: [] }],
    params: withComment ? Type.Object({ id: Uuid, commentId: Uuid }) : Type.Object({ id: Uuid }),
    response: { 200: LikeState, ...errors(400, 401, 403, 404, 409, 429) },
  });

  app.put('/vods/:id/like', { schema: schema('Like a video.', false) }, async (request) => {
    const { id } = request.params as { id: string };
    const { vod, viewer } = await signedIn(request, id);
    await takeWrite(opts.limiter, 'like', viewer.id, opts.writeLimits);
    return likes.likeVod(vod.id, viewer.id);
  });
  app.delete('/vods/:id/like', { schema: schema('Take back a like of a video.', false) }, async (request) => {
    const { id } = request.params as { id: string };
    const { vod, viewer } = await signedIn(request, id);
    await takeWrite(opts.limiter, 'like', viewer.id, opts.writeLimits);
    return likes.unlikeVod(vod.id, viewer.id);
  });
  app.put('/vods/:id/comments/:commentId/like', { schema: schema('Like a comment.', true) }, async (request) => {
    const { id, commentId } = request.params as { id: string; commentId: string };
    const { vod, viewer } = await signedIn(request, id);
    const comment = await liveComment(vod.id, commentId);
    await takeWrite(opts.limiter, 'like', viewer.id, opts.writeLimits);
    return likes.likeComment(comment, viewer.id);
  });
  app.delete('/vods/:id/comments/:commentId/like', { schema: schema('Take back a like of a comment.', true) }, async (request) => {
    const { id, commentId } = request.params as { id: string; commentId: string };
    const { vod, viewer } = await signedIn(request, id);
    const comment = await liveComment(vod.id, commentId);
    await takeWrite(opts.limiter, 'like', viewer.id, opts.writeLimits);
    return likes.unlikeComment(comment, viewer.id);
  });
};
