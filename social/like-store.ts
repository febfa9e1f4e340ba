// Likes on videos and comments: a unique row per user and object, and the object's counter changed
// in the same transaction only when a row was really inserted or deleted. Concurrent clicks then
// cannot drift the count from the rows: the primary key serialises two likes of one user, and the
// counter's row lock serialises everyone's increments.
import { sql, type Kysely } from 'kysely';
import { AppError } from '../src/errors.ts';
import type { SocialDb } from './social-tables.ts';

export interface LikeState {
  liked: boolean;
  likeCount: number;
}

export class LikeStore {
  constructor(private readonly db: Kysely<SocialDb>) {}

  async likeVod(vodId: string, userId: string): Promise<LikeState> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('vod_likes').values({ vod_id: vodId, user_id: userId }).onConflict((oc) => oc.doNothing()).returning('user_id').executeTakeFirst();
      if (!row) throw new AppError('ALREADY_LIKED');
      const stats = await trx
        .insertInto('vod_stats')
        .values({ vod_id: vodId, like_count: 1 })
        .onConflict((oc) => oc.column('vod_id').doUpdateSet((eb) => ({ like_count: eb('vod_stats.like_count', '+', 1) })))
        .returning('like_count')
        .executeTakeFirstOrThrow();
      return { liked: true, likeCount: stats.like_count };
    });
  }

  async unlikeVod(vodId: string, userId: string): Promise<LikeState> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('vod_likes').where('vod_id', '=', vodId).where('user_id', '=', userId).returning('user_id').executeTakeFirst();
      if (row) {
        await trx.updateTable('vod_stats').set({ like_count: sql<number>`greatest(0, like_count - 1)` }).where('vod_id', '=', vodId).execute();
      }
      const stats = await trx.selectFrom('vod_stats').select('like_count').where('vod_id', '=', vodId).executeTakeFirst();
      return { liked: false, likeCount: stats?.like_count ?? 0 };
    });
  }

  async likeComment(commentId: string, userId: string): Promise<LikeState> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('comment_likes').values({ comment_id: commentId, user_id: userId }).onConflict((oc) => oc.doNothing()).returning('user_id').executeTakeFirst();
      if (!row) throw new AppError('ALREADY_LIKED');
      const updated = await trx.updateTable('comments').set((eb) => ({ like_count: eb('like_count', '+', 1) })).where('id', '=', commentId).returning('like_count').executeTakeFirstOrThrow();
      return { liked: true, likeCount: updated.like_count };
    });
  }

  async unlikeComment(commentId: string, userId: string): Promise<LikeState> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('comment_likes').where('comment_id', '=', commentId).where('user_id', '=', userId).returning('user_id').executeTakeFirst();
      const updated = row
        ? await trx.updateTable('comments').set({ like_count: sql<number>`greatest(0, like_count - 1)` }).where('id', '=', commentId).returning('like_count').executeTakeFirstOrThrow()
        : await trx.selectFrom('comments').select('like_count').where('id', '=', commentId).executeTakeFirstOrThrow();
      return { liked: false, likeCount: updated.like_count };
    });
  }
}
