// Comments on videos: one level of replies (as YouTube), edits by the author, deletion by the
// author, the channel owner or a moderator. The counters (a video's comment count, a comment's
// reply count) change in the same transaction as the rows they count, under the parent's row lock.
import { sql, type Kysely } from 'kysely';
import { AppError } from '../src/errors.ts';
import { cleanText } from '../src/text/clean-text.ts';
import type { SocialDb } from './social-tables.ts';

export const COMMENT_MAX_CHARS = 2000;

export type CommentSort = 'newest' | 'top';

export interface CommentView {
  id: string;
  parentId: string | null;
  text: string;
  author: { username: string };
  createdAt: string;
  editedAt: string | null;
  likeCount: number;
  replyCount: number;
  liked: boolean;
}

/** Cleans comment text as chat's is cleaned (line breaks kept); a 4xx for empty or too long. */
export function cleanComment(raw: string): string {
  const text = cleanText(raw, { multiline: true }).replace(/\n{3,}/g, '\n\n');
  if (text === '') throw new AppError('VALIDATION', 'The comment is empty.');
  if ([...text].length > COMMENT_MAX_CHARS) throw new AppError('VALIDATION', `Comments are at most ${COMMENT_MAX_CHARS} characters.`);
  return text;
}

export class CommentStore {
  constructor(private readonly db: Kysely<SocialDb>) {}

  async create(vodId: string, userId: string, text: string, parentId: string | null): Promise<CommentView> {
    const id = await this.db.transaction().execute(async (trx) => {
      if (parentId) {
        const parent = await trx.selectFrom('comments').select(['id', 'vod_id', 'parent_id', 'deleted_at', 'hidden_at']).where('id', '=', parentId).forUpdate().executeTakeFirst();
        // A hidden comment (its author suspended) is out of view: as if there were none.
        if (!parent || parent.vod_id !== vodId || parent.hidden_at) throw new AppError('NOT_FOUND', 'No such comment on this video.');
        if (parent.parent_id !== null) throw new AppError('REPLY_TO_REPLY');
        if (parent.deleted_at) throw new AppError('PARENT_DELETED');
        await trx.updateTable('comments').set((eb) => ({ reply_count: eb('reply_count', '+', 1) })).where('id', '=', parentId).execute();
      }
      const row = await trx.insertInto('comments').values({ vod_id: vodId, user_id: userId, parent_id: parentId, text }).returning('id').executeTakeFirstOrThrow();
      await bumpCommentCount(trx, vodId, 1);
      return row.id;
    });
    return (await this.one(id, userId))!;
  }

  async one(id: string, viewerId: string | null): Promise<CommentView | null> {
    const row = await listQuery(this.db, viewerId).where('comments.id', '=', id).executeTakeFirst();
    return row ? toView(row) : null;
  }

  /** Top-level comments, newest first or by likes; `cursor` is the last id of the previous page. */
  async list(vodId: string, viewerId: string | null, sort: CommentSort, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }> {
    let query = listQuery(this.db, viewerId).where('comments.vod_id', '=', vodId).where('comments.parent_id', 'is', null);
    if (sort === 'newest') {
      // Compared in the database: created_at has microseconds a JavaScript Date would lose.
      if (cursor) query = query.where(sql<boolean>`(comments.created_at, comments.id) < (select c.created_at, c.id from comments c where c.id = ${cursor})`);
      query = query.orderBy('comments.created_at', 'desc').orderBy('comments.id', 'desc');
    } else {
      if (cursor) query = query.where(sql<boolean>`(comments.like_count, comments.created_at, comments.id) < (select c.like_count, c.created_at, c.id from comments c where c.id = ${cursor})`);
      query = query.orderBy('comments.like_count', 'desc').orderBy('comments.created_at', 'desc').orderBy('comments.id', 'desc');
    }
    const rows = await query.limit(limit + 1).execute();
    const page = rows.slice(0, limit).map(toView);
    return { comments: page, nextCursor: rows.length > limit ? page.at(-1)!.id : null };
  }

  /** Replies to a top-level comment, oldest first (a conversation reads downwards). */
  async replies(parentId: string, viewerId: string | null, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }> {
    let query = listQuery(this.db, viewerId).where('comments.parent_id', '=', parentId);
    if (cursor) query = query.where(sql<boolean>`(comments.created_at, comments.id) > (select c.created_at, c.id from comments c where c.id = ${cursor})`);
    const rows = await query.orderBy('comments.created_at', 'asc').orderBy('comments.id', 'asc').limit(limit + 1).execute();
    const page = rows.slice(0, limit).map(toView);
    return { comments: page, nextCursor: rows.length > limit ? page.at(-1)!.id : null };
  }

  /** The comment row (deleted ones included) for permission checks. */
  async row(vodId: string, id: string) {
    const row = await this.db.selectFrom('comments').selectAll().where('id', '=', id).where('vod_id', '=', vodId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such comment on this video.');
    return row;
  }

  async edit(id: string, text: string): Promise<void> {
    await this.db.updateTable('comments').set({ text, edited_at: new Date() }).where('id', '=', id).where('deleted_at', 'is', null).execute();
  }

  /**
   * Soft-deletes a comment; a top-level one takes its replies out of view (and out of the count)
   * with it. Returns false when there was no such comment or it was already deleted.
   */
  async remove(id: string, by: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('comments').select(['vod_id', 'parent_id', 'reply_count', 'deleted_at', 'hidden_at']).where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row || row.deleted_at) return false;
      await trx.updateTable('comments').set({ deleted_at: new Date(), deleted_by: by }).where('id', '=', id).execute();
      // A hidden comment (and a thread under one) is already out of every count.
      if (row.hidden_at) return true;
      if (row.parent_id) {
        const parent = await trx.selectFrom('comments').select(['deleted_at', 'hidden_at']).where('id', '=', row.parent_id).forUpdate().executeTakeFirst();
        await trx.updateTable('comments').set((eb) => ({ reply_count: eb('reply_count', '-', 1) })).where('id', '=', row.parent_id).execute();
        // A reply under a deleted or hidden parent was already out of the count.
        if (!parent?.deleted_at && !parent?.hidden_at) await bumpCommentCount(trx, row.vod_id, -1);
        return true;
      }
      await bumpCommentCount(trx, row.vod_id, -(1 + row.reply_count));
      return true;
    });
  }

  /** The author of a comment that is not deleted (hidden ones included: they can still be reported). */
  async author(id: string): Promise<string | null> {
    const row = await this.db.selectFrom('comments').select('user_id').where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return row?.user_id ?? null;
  }

  /**
   * Hides (or shows again) every comment of a user, as suspension does to their chat messages.
   * A hidden top-level comment takes its thread out of view, as a deleted one does. The counts of
   * the threads and videos it touches are counted again, under the same row locks (parents, then
   * the videos' stats) that writing and deleting a comment take, so none of those is lost.
   */
  async setHiddenForUser(userId: string, hidden: boolean): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const changed = await trx
        .updateTable('comments')
        .set({ hidden_at: hidden ? new Date() : null })
        .where('user_id', '=', userId)
        .where('hidden_at', hidden ? 'is' : 'is not', null)
        .returning(['id', 'vod_id', 'parent_id'])
        .execute();
      if (changed.length === 0) return 0;
      const parents = [...new Set(changed.flatMap((c) => (c.parent_id ? [c.parent_id] : [])))].sort();
      if (parents.length > 0) {
        await trx.selectFrom('comments').select('id').where('id', 'in', parents).orderBy('id').forUpdate().execute();
        await trx
          .updateTable('comments as p')
          .set({ reply_count: sql<number>`(select count(*)::int from comments r where r.parent_id = p.id and r.deleted_at is null and r.hidden_at is null)` })
          .where('p.id', 'in', parents)
          .execute();
      }
      const vods = [...new Set(changed.map((c) => c.vod_id))].sort();
      await trx.selectFrom('vod_stats').select('vod_id').where('vod_id', 'in', vods).orderBy('vod_id').forUpdate().execute();
      await trx
        .updateTable('vod_stats')
        .set({
          comment_count: sql<number>`(select count(*)::int from comments c left join comments p on p.id = c.parent_id
            where c.vod_id = vod_stats.vod_id and c.deleted_at is null and c.hidden_at is null
            and (c.parent_id is null or (p.deleted_at is null and p.hidden_at is null)))`,
        })
        .where('vod_id', 'in', vods)
        .execute();
      return changed.length;
    });
  }
}

function listQuery(db: Kysely<SocialDb>, viewerId: string | null) {
  return db
    .selectFrom('comments')
    .innerJoin('users', 'users.id', 'comments.user_id')
    .select(['comments.id', 'comments.parent_id', 'comments.text', 'comments.created_at', 'comments.edited_at', 'comments.like_count', 'comments.reply_count', 'users.username'])
    .select(
      (viewerId ? sql<boolean>`exists (select 1 from comment_likes cl where cl.comment_id = comments.id and cl.user_id = ${viewerId})` : sql<boolean>`false`).as('liked'),
    )
    .where('comments.deleted_at', 'is', null)
    .where('comments.hidden_at', 'is', null);
}

type ListRow = Awaited<ReturnType<ReturnType<typeof listQuery>['executeTakeFirstOrThrow']>>;

function toView(row: ListRow): CommentView {
  return {
    id: row.id,
    parentId: row.parent_id,
    text: row.text,
    author: { username: row.username },
    createdAt: row.created_at.toISOString(),
    editedAt: row.edited_at ? row.edited_at.toISOString() : null,
    likeCount: row.like_count,
    replyCount: row.reply_count,
    liked: Boolean(row.liked),
  };
}

/** Adds `delta` to a video's comment count, creating its stats row on first use. */
async function bumpCommentCount(trx: Kysely<SocialDb>, vodId: string, delta: number): Promise<void> {
  await trx
    .insertInto('vod_stats')
    .values({ vod_id: vodId, comment_count: Math.max(0, delta) })
    .onConflict((oc) => oc.column('vod_id').doUpdateSet((eb) => ({ comment_count: sql<number>`greatest(0, ${eb.ref('vod_stats.comment_count')} + ${delta})` })))
    .execute();
}
