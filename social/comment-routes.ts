// /api/v1/vods/:id/comments: comments and replies under a video. Whoever may see the video reads
// them; signed-in viewers write (rate-limited); the author edits and deletes, the channel owner and
// its chat moderators delete.
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
import { COMMENT_MAX_CHARS, CommentStore, cleanComment } from './comment-store.ts';
import type { SocialDb } from './social-tables.ts';
import { takeWrite, type WriteKind } from './write-limit.ts';

export interface CommentRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  limiter: RateLimiter;
  writeLimits?: Partial<Record<WriteKind, BucketSpec>>;
}

const Uuid = Type.String({ format: 'uuid' });
export const CommentBody = Type.Object({
  id: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  text: Type.String(),
  author: Type.Object({ username: Type.String() }),
  createdAt: Type.String({ format: 'date-time' }),
  editedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  likeCount: Type.Integer(),
  replyCount: Type.Integer(),
  liked: Type.Boolean(),
});
const Page = Type.Object({ comments: Type.Array(CommentBody), nextCursor: Type.Union([Type.String(), Type.Null()]) });
// The raw text may carry a little more than the cleaned limit (invisible characters are dropped);
// anything near 10,000 characters is refused by the schema before any work.
const Text = Type.String({ minLength: 1, maxLength: COMMENT_MAX_CHARS * 2 });

export const commentRoutes: FastifyPluginAsync<CommentRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const store = new CommentStore(opts.db);
  const vodDb = narrow(opts.db).to<VodDb>();
  const visible = (request: FastifyRequest, id: string) => findVisibleVod(vodDb, opts.accounts, request, id);
  const signedIn = async (request: FastifyRequest, id: string) => {
    const found = await visible(request, id);
    if (!found.viewer) throw new AppError('UNAUTHENTICATED');
    return { vod: found.vod, viewer: found.viewer };
  };
  const isModerator = async (channelId: string, userId: string) =>
    !!(await opts.db.selectFrom('chat_moderators').select('user_id').where('channel_id', '=', channelId).where('user_id', '=', userId).executeTakeFirst());

  app.get(
    '/vods/:id/comments',
    {
      schema: {
        tags: ['social'],
        summary: 'Top-level comments of a video, newest first or by likes.',
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({
          sort: Type.Union([Type.Literal('newest'), Type.Literal('top')], { default: 'newest' }),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Uuid),
        }),
        response: { 200: Page, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { vod, viewer } = await visible(request, request.params.id);
      const { sort, limit, cursor } = request.query;
      return store.list(vod.id, viewer?.id ?? null, sort, limit, cursor);
    },
  );

  app.post(
    '/vods/:id/comments',
    {
      schema: {
        tags: ['social'],
        summary: 'Comment on a video, or reply to a top-level comment with parentId.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Uuid }),
        body: Type.Object({ text: Text, parentId: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 201: CommentBody, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const { vod, viewer } = await signedIn(request, request.params.id);
      const text = cleanComment(request.body.text);
      await takeWrite(opts.limiter, 'comment', viewer.id, opts.writeLimits);
      const comment = await store.create(vod.id, viewer.id, text, request.body.parentId ?? null);
      return reply.status(201).send(comment);
    },
  );

  app.get(
    '/vods/:id/comments/:commentId/replies',
    {
      schema: {
        tags: ['social'],
        summary: 'Replies to a comment, oldest first.',
        params: Type.Object({ id: Uuid, commentId: Uuid }),
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }), cursor: Type.Optional(Uuid) }),
        response: { 200: Page, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { vod, viewer } = await visible(request, request.params.id);
      const parent = await store.row(vod.id, request.params.commentId);
      if (parent.deleted_at) throw new AppError('COMMENT_DELETED');
      // Its author is suspended with their content hidden: the thread is out of view.
      if (parent.hidden_at) throw new AppError('NOT_FOUND', 'No such comment on this video.');
      return store.replies(parent.id, viewer?.id ?? null, request.query.limit, request.query.cursor);
    },
  );

  app.patch(
    '/vods/:id/comments/:commentId',
    {
      schema: {
        tags: ['social'],
        summary: 'Edit your comment.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Uuid, commentId: Uuid }),
        body: Type.Object({ text: Text }, { additionalProperties: false }),
        response: { 200: CommentBody, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const { vod, viewer } = await signedIn(request, request.params.id);
      const row = await store.row(vod.id, request.params.commentId);
      if (row.deleted_at) throw new AppError('COMMENT_DELETED');
      if (row.user_id !== viewer.id) throw new AppError('FORBIDDEN', 'Only its author may edit a comment.');
      const text = cleanComment(request.body.text);
      await takeWrite(opts.limiter, 'comment', viewer.id, opts.writeLimits);
      await store.edit(row.id, text);
      return (await store.one(row.id, viewer.id))!;
    },
  );

  app.delete(
    '/vods/:id/comments/:commentId',
    {
      schema: {
        tags: ['social'],
        summary: 'Delete a comment: its author, the channel owner or a moderator. Deleting a comment hides its replies.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Uuid, commentId: Uuid }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { vod, viewer } = await signedIn(request, request.params.id);
      const row = await store.row(vod.id, request.params.commentId);
      const allowed = row.user_id === viewer.id || vod.owner_id === viewer.id || (await isModerator(vod.channel_id, viewer.id));
      if (!allowed) throw new AppError('FORBIDDEN', 'Only the author, the channel owner or a moderator may delete a comment.');
      await store.remove(row.id, viewer.id);
      return reply.status(204).send(null);
    },
  );
};
