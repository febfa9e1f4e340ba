// vod/'s public queries: a VOD row with its channel, and whether a request's viewer may see it. The
// VOD routes use them, and so does chat's replay, which shows a VOD's chat only to who may see the VOD.
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService, PublicUser } from '../src/accounts/account-service.ts';
import { AppError } from '../src/errors.ts';
import { bearerToken } from '../src/http/auth-hook.ts';
import type { VodDb } from './vod-tables.ts';

export function vodQuery(db: Kysely<VodDb>) {
  return db
    .selectFrom('vods')
    .innerJoin('channels', 'channels.id', 'vods.channel_id')
    .selectAll('vods')
    .select(['channels.slug', 'channels.title as channel_title', 'channels.owner_id'])
    .where('vods.deleted_at', 'is', null);
}
export type VodRow = NonNullable<Awaited<ReturnType<ReturnType<typeof vodQuery>['executeTakeFirst']>>>;

/** The signed-in user when a token is sent; anonymous otherwise (a bad token is still an error). */
export async function viewerOf(accounts: AccountService, request: FastifyRequest): Promise<PublicUser | null> {
  const token = bearerToken(request);
  return token === null ? null : accounts.authenticate(token);
}

/** The VOD if the request's viewer may see it (private ones only their owner); a 4xx AppError otherwise. */
export async function findVisibleVod(db: Kysely<VodDb>, accounts: AccountService, request: FastifyRequest, id: string) {
  const vod = await vodQuery(db).where('vods.id', '=', id).executeTakeFirst();
  if (!vod) throw new AppError('NOT_FOUND', 'No such VOD.');
  const viewer = await viewerOf(accounts, request);
  if (vod.visibility === 'private' && vod.owner_id !== viewer?.id) {
    throw viewer ? new AppError('FORBIDDEN', 'This VOD is private.') : new AppError('UNAUTHENTICATED', 'This VOD is private; sign in as its owner.');
  }
  return { vod, viewer };
}
