// The vods rows of uploads: created with the tus upload ('uploading'), advanced by the upload's
// progress and end, then by the transcoding job ('processing' → 'ready' | 'failed'), and removed
// whole when an unfinished upload expires.
import { sql, type Kysely } from 'kysely';
import type { UploadMetadata } from './upload-metadata.ts';
import type { VodDb } from './vod-tables.ts';

export interface NewUpload {
  vodId: string;
  channelId: string;
  uploadId: string;
  size: number;
  meta: UploadMetadata;
  expiresAt: Date;
  /** refused (false returned) when the channel already has this many uploads in progress */
  maxInProgress: number;
}

export class UploadStore {
  constructor(private readonly db: Kysely<VodDb>) {}

  async inProgress(channelId: string): Promise<number> {
    const row = await this.db
      .selectFrom('vods')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('channel_id', '=', channelId)
      .where('status', '=', 'uploading')
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Inserts the VOD unless the channel is at its in-progress limit (checked in the same statement). */
  async create(u: NewUpload): Promise<boolean> {
    const result = await sql`
      INSERT INTO vods (id, channel_id, title, description, visibility, status, source, started_at, storage_prefix, upload_id, upload_size, upload_expires_at)
      SELECT ${u.vodId}, ${u.channelId}, ${u.meta.title}, ${u.meta.description}, ${u.meta.visibility}, 'uploading', 'upload', now(), ${`vods/${u.vodId}`}, ${u.uploadId}, ${u.size}, ${u.expiresAt.toISOString()}
      WHERE (SELECT count(*) FROM vods WHERE channel_id = ${u.channelId} AND status = 'uploading' AND deleted_at IS NULL) < ${u.maxInProgress}
    `.execute(this.db);
    return Number(result.numAffectedRows ?? 0) === 1;
  }

  /** The upload's VOD and its channel's owner; null when unknown or deleted. */
  async byUploadId(uploadId: string) {
    return (
      (await this.db
        .selectFrom('vods')
        .innerJoin('channels', 'channels.id', 'vods.channel_id')
        .select(['vods.id', 'vods.status', 'vods.channel_id', 'channels.owner_id'])
        .where('vods.upload_id', '=', uploadId)
        .where('vods.deleted_at', 'is', null)
        .executeTakeFirst()) ?? null
    );
  }

  async setOffset(uploadId: string, offset: number): Promise<void> {
    await this.db.updateTable('vods').set({ upload_offset: offset }).where('upload_id', '=', uploadId).where('status', '=', 'uploading').execute();
  }

  /** Every byte is stored: the VOD waits for its transcoding job. Returns its id. */
  async finish(uploadId: string, size: number): Promise<string | null> {
    const row = await this.db
      .updateTable('vods')
      .set({ status: 'processing', upload_offset: size, upload_expires_at: null, progress: 0 })
      .where('upload_id', '=', uploadId)
      .where('status', '=', 'uploading')
      .where('deleted_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /** Uploads never finished by `now`. */
  async expired(now: Date): Promise<Array<{ id: string; upload_id: string | null }>> {
    return this.db
      .selectFrom('vods')
      .select(['id', 'upload_id'])
      .where('status', '=', 'uploading')
      .where('upload_expires_at', '<', now)
      .limit(100)
      .execute();
  }

  /** VODs waiting for or in a transcoding job (after a restart, their jobs are added again). */
  async processing(): Promise<string[]> {
    const rows = await this.db.selectFrom('vods').select('id').where('status', '=', 'processing').where('deleted_at', 'is', null).where('source', '=', 'upload').execute();
    return rows.map((r) => r.id);
  }

  async removeUploading(uploadId: string): Promise<void> {
    await this.db.deleteFrom('vods').where('upload_id', '=', uploadId).where('status', '=', 'uploading').execute();
  }

  async remove(vodId: string): Promise<void> {
    await this.db.deleteFrom('vods').where('id', '=', vodId).execute();
  }

  async setProgress(vodId: string, percent: number): Promise<void> {
    await this.db.updateTable('vods').set({ progress: Math.max(0, Math.min(100, percent)) }).where('id', '=', vodId).where('status', '=', 'processing').execute();
  }

  async setProcessing(vodId: string): Promise<void> {
    await this.db.updateTable('vods').set({ status: 'processing', failure_reason: null }).where('id', '=', vodId).where('status', '=', 'processing').execute();
  }

  async fail(vodId: string, reason: string): Promise<void> {
    await this.db.updateTable('vods').set({ status: 'failed', failure_reason: reason.slice(0, 500) }).where('id', '=', vodId).where('status', '!=', 'ready').execute();
  }

  /** The source is gone (transcoded, failed for good, or deleted): the row no longer names it. */
  async forgetSource(vodId: string): Promise<void> {
    await this.db.updateTable('vods').set({ upload_id: null }).where('id', '=', vodId).execute();
  }
}
