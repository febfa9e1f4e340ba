// The archiver's database state: the vods row of each recorded session and its upload journal.
// Everything the archiver knows survives in these two tables and on disk, so a restarted archiver
// (in the server or in its own process) carries on where the last one stopped.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { VodDb } from './vod-tables.ts';
import type { VodRendition, VodUploadsTable, VodsTable } from './vod-tables.ts';
import type { RenditionInfo } from '../packager/stream-defs.ts';

export type Vod = Selectable<VodsTable>;
export type JournalRow = Selectable<VodUploadsTable>;
export type NewJournalRow = Pick<JournalRow, 'vod_id' | 'rendition' | 'file' | 'kind' | 'run' | 'msn' | 'duration_s' | 'discontinuity' | 'size_bytes' | 'file_ready_at'>;

export interface RecordedSession {
  vod: Vod;
  endedAt: Date | null;
  renditions: RenditionInfo[];
}

/** A finalisation claim older than this was left by a finaliser that died; another may take it. */
export const CLAIM_STALE_MS = 10 * 60_000;

/**
 * How long the VODs of a node stopped on purpose (a deploy, a restart) wait for it to come back and
 * finish them before another node does. A restart takes seconds to minutes; the claim on a
 * finalisation it had started goes stale after as long, so another node could not take it sooner.
 */
export const STOPPED_NODE_FINALIZE_MS = CLAIM_STALE_MS;

export class VodStore {
  constructor(private readonly db: Kysely<VodDb>) {}

  /** The session's VOD, created on first sight; null when no such live session exists. */
  async ensureVod(sessionId: string): Promise<RecordedSession | null> {
    const session = await this.db
      .selectFrom('live_sessions')
      .innerJoin('channels', 'channels.id', 'live_sessions.channel_id')
      .select(['live_sessions.channel_id', 'live_sessions.started_at', 'live_sessions.ended_at', 'live_sessions.renditions', 'channels.title'])
      .where('live_sessions.id', '=', sessionId)
      .executeTakeFirst();
    if (!session) return null;
    const id = randomUUID();
    await this.db
      .insertInto('vods')
      .values({
        id,
        live_session_id: sessionId,
        channel_id: session.channel_id,
        title: session.title || `Stream of ${session.started_at.toISOString().slice(0, 10)}`,
        started_at: session.started_at,
        storage_prefix: `vods/${id}`,
      })
      .onConflict((oc) => oc.column('live_session_id').doNothing())
      .execute();
    const vod = await this.db.selectFrom('vods').selectAll().where('live_session_id', '=', sessionId).executeTakeFirstOrThrow();
    return { vod, endedAt: session.ended_at, renditions: (session.renditions as RenditionInfo[] | null) ?? [] };
  }

  /**
   * VODs still recording (or interrupted while finalising) whose live session has ended and that
   * this node should finalise: its own sessions, those of a node lost more than `lostAfterMs` ago,
   * and those of a node stopped on purpose (`server-shutdown`, its finalisation cut short) that has
   * not come back to finish them in STOPPED_NODE_FINALIZE_MS, or `lostAfterMs` if longer: it was
   * scaled down. Another node's are `interrupted`: finalised from what reached storage. Another
   * node's session that ended normally is its own to finish: it may still be uploading a backlog.
   */
  async endedUnfinished(nodeId: string, lostAfterMs: number): Promise<Array<{ sessionId: string; vodId: string; interrupted: boolean }>> {
    const rows = await this.db
      .selectFrom('vods')
      .innerJoin('live_sessions', 'live_sessions.id', 'vods.live_session_id')
      .select(['vods.id', 'vods.live_session_id', 'live_sessions.owner_node'])
      .where('vods.status', 'in', ['recording', 'finalizing'])
      .where('vods.deleted_at', 'is', null)
      .where('live_sessions.ended_at', 'is not', null)
      .where((eb) =>
        eb.or([
          eb('live_sessions.owner_node', '=', nodeId),
          eb('live_sessions.owner_node', 'is', null),
          eb.and([
            eb('live_sessions.end_reason', '=', 'node-lost'),
            eb('live_sessions.ended_at', '<', sql<Date>`now() - ${lostAfterMs} * interval '1 millisecond'`),
          ]),
          eb.and([
            eb('live_sessions.end_reason', '=', 'server-shutdown'),
            eb('live_sessions.ended_at', '<', sql<Date>`now() - ${Math.max(lostAfterMs, STOPPED_NODE_FINALIZE_MS)} * interval '1 millisecond'`),
          ]),
        ]),
      )
      .execute();
    return rows.map((r) => ({ sessionId: r.live_session_id!, vodId: r.id, interrupted: r.owner_node !== null && r.owner_node !== nodeId }));
  }

  /**
   * Takes the VOD's finalisation for this node: true for exactly one node. A claim this node took
   * before a restart is its own again; another node's claim only once it is `staleMs` old.
   */
  async claimFinalization(vodId: string, nodeId: string, staleMs: number): Promise<boolean> {
    const rows = await this.db
      .updateTable('vods')
      .set({ status: 'finalizing', finalizer_node: nodeId, finalize_claimed_at: sql`now()` })
      .where('id', '=', vodId)
      .where('deleted_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'recording'),
          eb.and([
            eb('status', '=', 'finalizing'),
            eb.or([
              eb('finalizer_node', 'is', null),
              eb('finalizer_node', '=', nodeId),
              eb('finalize_claimed_at', '<', sql<Date>`now() - ${staleMs} * interval '1 millisecond'`),
            ]),
          ]),
        ]),
      )
      .returning('id')
      .execute();
    return rows.length === 1;
  }

  /** Files of this node's sessions waiting for upload, and when the oldest was complete on disk. */
  async uploadBacklog(nodeId: string): Promise<{ pending: number; oldestReadyAt: Date | null }> {
    const row = await this.db
      .selectFrom('vod_uploads')
      .innerJoin('vods', 'vods.id', 'vod_uploads.vod_id')
      .innerJoin('live_sessions', 'live_sessions.id', 'vods.live_session_id')
      .select((eb) => [eb.fn.countAll<string | number>().as('pending'), eb.fn.min('vod_uploads.file_ready_at').as('oldest')])
      .where('vod_uploads.state', '=', 'pending')
      .where('live_sessions.owner_node', '=', nodeId)
      .executeTakeFirstOrThrow();
    return { pending: Number(row.pending), oldestReadyAt: row.oldest ? new Date(row.oldest as Date | string) : null };
  }

  async markInterrupted(vodId: string): Promise<void> {
    await this.db.updateTable('vods').set({ interrupted: true }).where('id', '=', vodId).execute();
  }

  async journaled(vodId: string, rendition: string): Promise<JournalRow[]> {
    return this.db.selectFrom('vod_uploads').selectAll().where('vod_id', '=', vodId).where('rendition', '=', rendition).orderBy('id').execute();
  }

  async allJournaled(vodId: string): Promise<JournalRow[]> {
    return this.db.selectFrom('vod_uploads').selectAll().where('vod_id', '=', vodId).orderBy('rendition').orderBy('id').execute();
  }

  /**
   * Writes the row unless the file is journaled already; returns the stored row either way. With
   * `uploadedAt`, a file already in storage is journaled as uploaded.
   */
  async journal(row: NewJournalRow, uploadedAt?: Date): Promise<JournalRow> {
    // One query in the usual case (a new file): the row comes back from the insert.
    const values = uploadedAt ? { ...row, state: 'uploaded' as const, uploaded_at: uploadedAt } : row;
    const inserted = await this.db.insertInto('vod_uploads').values(values).onConflict((oc) => oc.columns(['vod_id', 'rendition', 'file']).doNothing()).returningAll().executeTakeFirst();
    if (inserted) return inserted;
    return this.db
      .selectFrom('vod_uploads')
      .selectAll()
      .where('vod_id', '=', row.vod_id)
      .where('rendition', '=', row.rendition)
      .where('file', '=', row.file)
      .executeTakeFirstOrThrow();
  }

  async markUploaded(id: number): Promise<Date> {
    const uploadedAt = new Date();
    await this.db.updateTable('vod_uploads').set({ state: 'uploaded', uploaded_at: uploadedAt, last_error: null }).where('id', '=', id).execute();
    return uploadedAt;
  }

  async markAttemptFailed(id: number, error: string): Promise<void> {
    await this.db
      .updateTable('vod_uploads')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
      .where('id', '=', id)
      .execute();
  }

  /** A pending file that vanished from disk can never be uploaded: it leaves the journal. */
  async forget(id: number): Promise<void> {
    await this.db.deleteFrom('vod_uploads').where('id', '=', id).where('state', '=', 'pending').execute();
  }

  async setStatus(vodId: string, status: Vod['status']): Promise<void> {
    await this.db.updateTable('vods').set({ status }).where('id', '=', vodId).execute();
  }

  async markReady(vodId: string, done: { durationS: number; renditions: VodRendition[]; sizeBytes: number; thumbnailKey: string | null; mediaOffsetMs: number }): Promise<void> {
    await this.db
      .updateTable('vods')
      .set({
        status: 'ready',
        duration_s: done.durationS,
        renditions: JSON.stringify(done.renditions),
        size_bytes: done.sizeBytes,
        thumbnail_key: done.thumbnailKey,
        media_offset_ms: done.mediaOffsetMs,
      })
      .where('id', '=', vodId)
      .execute();
  }

  async byId(vodId: string): Promise<Vod | null> {
    return (await this.db.selectFrom('vods').selectAll().where('id', '=', vodId).executeTakeFirst()) ?? null;
  }
}
