// /api/v1/vods: recorded streams. Anyone lists and reads public VODs (unlisted ones by id); the
// channel owner sees all of theirs, renames them, changes their visibility and deletes them
// (objects included). Private media is reached only through a signed, expiring playback URL.
import { deleteRecording } from './vod-delete.ts';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, type Kysely } from 'kysely';
import { Type } from 'typebox';
import type { VodUrlSigner } from './vod-url-signer.ts';
import type { AccountService } from '../src/accounts/account-service.ts';
import { findVisibleVod, viewerOf, vodQuery, type VodRow } from './vod-query.ts';
import type { VodDb } from './vod-tables.ts';
import { AppError } from '../src/errors.ts';
import type { Storage } from '../src/storage/storage.ts';
import { Slug, errors } from '../src/http/schemas.ts';

export interface VodRoutesOptions {
  db: Kysely<VodDb>;
  storage: Storage;
  accounts: AccountService;
  signer: VodUrlSigner;
  publicUrl: string;
  /** Stops an upload's job and removes its source (null when uploads are not wired in). */
  uploads: { discard(vod: VodRow): Promise<void>; cancel(vod: VodRow): Promise<void> } | null;
  /** What other rooms add to a VOD's body (social/: counts, the viewer's like and resume point), by VOD id. */
  extras?: VodExtras;
}

export type VodExtras = (vodIds: string[], viewerId: string | null) => Promise<Map<string, Record<string, unknown>>>;

/** Lifetime of a private VOD's signed playback URL. */
export const SIGNED_URL_TTL_S = 6 * 3600;

const VodId = Type.String({ format: 'uuid' });
export const VodBody = Type.Object({
  id: Type.String(),
  title: Type.String(),
  channel: Type.Object({ slug: Type.String(), title: Type.String() }),
  source: Type.String({ enum: ['recording', 'upload'] }),
  status: Type.String({ enum: ['recording', 'finalizing', 'uploading', 'processing', 'ready', 'failed'] }),
  description: Type.String(),
  progress: Type.Number({ description: 'uploading: percent of the file received; processing: percent transcoded' }),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  visibility: Type.String({ enum: ['public', 'unlisted', 'private'] }),
  startedAt: Type.String({ format: 'date-time' }),
  durationS: Type.Number(),
  /** Finalised by another node after the streaming node was lost: may end before the stream did. */
  interrupted: Type.Boolean(),
  sizeBytes: Type.Integer(),
  renditions: Type.Array(Type.Object({ name: Type.String(), width: Type.Integer(), height: Type.Integer(), bandwidth: Type.Integer() })),
  thumbnailUrl: Type.Union([Type.String(), Type.Null()]),
  previewTrackUrl: Type.Union([Type.String(), Type.Null()]),
  playbackUrl: Type.Union([Type.String(), Type.Null()]),
  // Added by social/ through `extras` (which also repeats `description`).
  tags: Type.Optional(Type.Array(Type.String())),
  likeCount: Type.Optional(Type.Integer()),
  viewCount: Type.Optional(Type.Integer()),
  commentCount: Type.Optional(Type.Integer()),
  liked: Type.Optional(Type.Boolean()),
  resumeAtS: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
});

export const vodRoutes: FastifyPluginAsync<VodRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, storage, signer } = opts;

  const mediaUrl = (vod: VodRow, file: string): string => {
    const cdn = vod.visibility === 'private' ? null : storage.publicUrl(`${vod.storage_prefix}/${file}`);
    if (cdn) return cdn;
    const signed = vod.visibility === 'private' ? `?${signer.sign(vod.id, SIGNED_URL_TTL_S)}` : '';
    return `${opts.publicUrl}/vod/${vod.id}/${file}${signed}`;
  };
  const body = (vod: VodRow) => {
    const ready = vod.status === 'ready';
    return {
      id: vod.id,
      title: vod.title,
      channel: { slug: vod.slug, title: vod.channel_title },
      source: vod.source,
      status: vod.status,
      description: vod.description,
      progress: progressOf(vod),
      failureReason: vod.failure_reason,
      visibility: vod.visibility,
      startedAt: vod.started_at.toISOString(),
      durationS: vod.duration_s,
      interrupted: vod.interrupted,
      sizeBytes: vod.size_bytes,
      renditions: vod.renditions.map((r) => ({ name: r.name, width: r.width, height: r.height, bandwidth: r.bandwidth })),
      thumbnailUrl: ready && vod.thumbnail_key ? mediaUrl(vod, 'poster.jpg') : null,
      previewTrackUrl: ready && vod.thumbnail_key ? mediaUrl(vod, 'thumbnails.vtt') : null,
      playbackUrl: ready ? mediaUrl(vod, 'master.m3u8') : null,
    };
  };
  const withExtras = async (vods: VodRow[], viewerId: string | null) => {
    const extra = opts.extras && vods.length ? await opts.extras(vods.map((v) => v.id), viewerId) : new Map<string, Record<string, unknown>>();
    return vods.map((v) => ({ ...body(v), ...extra.get(v.id) }));
  };
  const visible = (request: FastifyRequest, id: string) => findVisibleVod(db, opts.accounts, request, id);
  const owned = async (request: FastifyRequest, id: string) => {
    const { vod, viewer } = await visible(request, id);
    if (!viewer) throw new AppError('UNAUTHENTICATED');
    if (vod.owner_id !== viewer.id) throw new AppError('FORBIDDEN', 'Only the channel owner may change this VOD.');
    return vod;
  };

  app.get(
    '/vods',
    {
      schema: {
        tags: ['vods'],
        summary: 'Recorded streams, newest first. The owner of `channel` also sees its unlisted, private and unfinished ones.',
        querystring: Type.Object({
          channel: Type.Optional(Slug),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ format: 'uuid', description: 'nextCursor of the previous page' })),
        }),
        response: { 200: Type.Object({ vods: Type.Array(VodBody), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const { channel, limit, cursor } = request.query;
      const viewer = await viewerOf(opts.accounts, request);
      let query = vodQuery(db).where((eb) => {
        const listed = eb.and([eb('vods.visibility', '=', 'public'), eb('vods.status', '=', 'ready')]);
        return viewer ? eb.or([listed, eb('channels.owner_id', '=', viewer.id)]) : listed;
      });
      if (channel) query = query.where((eb) => eb(eb.fn('lower', ['channels.slug']), '=', channel.toLowerCase()));
      // Compare in the database: started_at has microseconds a JavaScript Date would lose.
      if (cursor) query = query.where(sql<boolean>`(vods.started_at, vods.id) < (select c.started_at, c.id from vods c where c.id = ${cursor})`);
      const rows = await query.orderBy('vods.started_at', 'desc').orderBy('vods.id', 'desc').limit(limit + 1).execute();
      const page = rows.slice(0, limit);
      return { vods: await withExtras(page, viewer?.id ?? null), nextCursor: rows.length > limit ? page.at(-1)!.id : null };
    },
  );

  app.get(
    '/vods/:id',
    { schema: { tags: ['vods'], params: Type.Object({ id: VodId }), response: { 200: VodBody, ...errors(400, 401, 403, 404) } } },
    async (request) => {
      const { vod, viewer } = await visible(request, request.params.id);
      return (await withExtras([vod], viewer?.id ?? null))[0]!;
    },
  );

  app.patch(
    '/vods/:id',
    {
      schema: {
        tags: ['vods'],
        security: [{ bearer: [] }],
        params: Type.Object({ id: VodId }),
        body: Type.Object(
          { title: Type.Optional(Type.String({ minLength: 1, maxLength: 140 })), visibility: Type.Optional(Type.String({ enum: ['public', 'unlisted', 'private'] })) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: VodBody, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const vod = await owned(request, request.params.id);
      const { title, visibility } = request.body;
      const trimmed = title?.replace(/[\u0000-\u001F\u007F]/g, '').trim();
      if (trimmed === '') throw new AppError('VALIDATION', 'The title may not be blank.');
      await db
        .updateTable('vods')
        .set({ ...(trimmed ? { title: trimmed } : {}), ...(visibility ? { visibility: visibility as VodRow['visibility'] } : {}) })
        .where('id', '=', vod.id)
        .execute();
      return body((await vodQuery(db).where('vods.id', '=', vod.id).executeTakeFirst())!);
    },
  );

  app.post(
    '/vods/:id/cancel',
    {
      schema: {
        tags: ['vods'],
        summary: 'Stop an upload (still arriving or being transcoded): it ends failed and its file is removed; delete the VOD to remove it from the list.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: VodId }),
        response: { 200: VodBody, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const vod = await owned(request, request.params.id);
      if (vod.source !== 'upload' || (vod.status !== 'uploading' && vod.status !== 'processing') || !opts.uploads) {
        throw new AppError('BAD_REQUEST', 'Only an upload still in progress can be cancelled.');
      }
      await opts.uploads.cancel(vod);
      return body((await vodQuery(db).where('vods.id', '=', vod.id).executeTakeFirst())!);
    },
  );

  app.delete(
    '/vods/:id',
    { schema: { tags: ['vods'], security: [{ bearer: [] }], params: Type.Object({ id: VodId }), response: { 204: Type.Null(), ...errors(400, 401, 403, 404) } } },
    async (request, reply) => {
      const vod = await owned(request, request.params.id);
      if (vod.status === 'recording' || vod.status === 'finalizing') {
        throw new AppError('BAD_REQUEST', 'The VOD is still being recorded; delete it once it is ready.');
      }
      // Hidden first, so nobody is sent to objects that are going away (and a running job sees it).
      await deleteRecording(db, storage, vod, () => opts.uploads?.discard(vod));
      request.log.info({ vod: vod.id }, 'VOD deleted');
      return reply.status(204).send(null);
    },
  );
};

function progressOf(vod: VodRow): number {
  if (vod.status === 'ready') return 100;
  if (vod.status === 'uploading') return vod.upload_size ? Math.floor((Number(vod.upload_offset) / Number(vod.upload_size)) * 1000) / 10 : 0;
  if (vod.status === 'processing') return vod.progress;
  return 0;
}
