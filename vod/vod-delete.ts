// Deleting a recording with its stored objects: hidden first, so nobody is sent to objects that are
// going away, then its objects and its upload journal. Used by the owner's DELETE and by an
// instance moderator acting on a report.
import type { Kysely } from 'kysely';
import type { Storage } from '../src/storage/storage.ts';
import type { VodDb } from './vod-tables.ts';

export async function deleteRecording(db: Kysely<VodDb>, storage: Storage, vod: { id: string; storage_prefix: string }, discardUpload?: () => Promise<void> | undefined): Promise<void> {
  await db.updateTable('vods').set({ deleted_at: new Date() }).where('id', '=', vod.id).execute();
  // An upload's job stops and its unfinished source goes before the objects are listed.
  await discardUpload?.();
  for (const object of await storage.list(`${vod.storage_prefix}/`)) await storage.remove(object.key);
  await db.deleteFrom('vod_uploads').where('vod_id', '=', vod.id).execute();
}

/** A video (recording or upload) that is not deleted, with its channel's owner; null when there is none. */
export async function findRecording(
  db: Kysely<VodDb>,
  vodId: string,
): Promise<{ id: string; ownerId: string; status: string; storage_prefix: string; source: string; upload_id: string | null } | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vodId)) return null;
  const row = await db
    .selectFrom('vods as v')
    .innerJoin('channels as c', 'c.id', 'v.channel_id')
    .select(['v.id', 'c.owner_id', 'v.status', 'v.storage_prefix', 'v.source', 'v.upload_id'])
    .where('v.id', '=', vodId)
    .where('v.deleted_at', 'is', null)
    .executeTakeFirst();
  return row ? { id: row.id, ownerId: row.owner_id, status: row.status, storage_prefix: row.storage_prefix, source: row.source, upload_id: row.upload_id } : null;
}
