// /vod/<id>/…: a ready VOD's playlists, media and pictures, streamed from Storage with HTTP Range
// support. Private VODs need the signed query of their playback URL, which every playlist passes on
// to the files it names (relative URIs would otherwise drop it). With CDN_URL set, public media is
// a redirect to the CDN.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { IMMUTABLE } from '../../../packager/rendition-recorder.ts';
import type { VodUrlSigner } from '../../../packager/vod-url-signer.ts';
import type { DB } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { guessContentType } from '../../storage/content-type.ts';
import { ObjectNotFoundError, RangeNotSatisfiableError, type ByteRange, type Storage } from '../../storage/storage.ts';

export interface VodMediaRoutesOptions {
  db: Kysely<DB>;
  storage: Storage;
  signer: VodUrlSigner;
}

const FILE = /^(master\.m3u8|poster\.jpg|sprite\.jpg|thumbnails\.vtt|[A-Za-z0-9_-]{1,32}\/(index\.m3u8|init-\d{1,6}\.mp4|seg-\d{1,9}\.m4s))$/;

/** Appends the signed query to every URI a playlist or the thumbnails track names. */
export function passSignature(text: string, file: string, query: string): string {
  if (file.endsWith('.vtt')) return text.replace(/^(sprite\.jpg)(#xywh=)/gm, `$1?${query}$2`);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : line.startsWith('#') ? line.replace(/URI="([^"]+)"/g, `URI="$1?${query}"`) : `${line}?${query}`))
    .join('\n');
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges) is served whole. */
function parseRange(header: string | undefined): { start?: number; end?: number; suffix?: number } | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  return end !== undefined && end < start ? null : { start, end };
}

export const vodMediaRoutes: FastifyPluginAsync<VodMediaRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { storage } = opts;
  app.addHook('onSend', async (_request, reply) => void reply.header('access-control-allow-origin', '*'));

  app.get(
    '/:id/*',
    { schema: { hide: true, params: Type.Object({ id: Type.String({ format: 'uuid' }), '*': Type.String() }), querystring: Type.Object({ exp: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) }) } },
    async (request, reply) => {
      const { id, '*': file } = request.params;
      if (!FILE.test(file)) throw new AppError('NOT_FOUND', 'No such VOD file.');
      const vod = await opts.db.selectFrom('vods').select(['id', 'status', 'visibility', 'storage_prefix', 'deleted_at']).where('id', '=', id).executeTakeFirst();
      if (!vod || vod.deleted_at || vod.status !== 'ready') throw new AppError('NOT_FOUND', 'No such VOD.');
      const key = `${vod.storage_prefix}/${file}`;
      const isPrivate = vod.visibility === 'private';
      if (isPrivate && !opts.signer.verify(id, request.query.exp, request.query.sig)) {
        throw new AppError('FORBIDDEN', 'This VOD is private: use the playback URL its owner gets from the API.');
      }
      const cdn = isPrivate ? null : storage.publicUrl(key);
      if (cdn) return reply.redirect(cdn, 302);

      const textual = /\.(m3u8|vtt)$/.test(file);
      let range: ByteRange | undefined;
      const asked = textual ? null : parseRange(request.headers.range);
      if (asked?.suffix !== undefined) {
        const size = (await storage.head(key))?.size;
        if (size === undefined) throw new AppError('NOT_FOUND', 'No such VOD file.');
        range = { start: Math.max(0, size - asked.suffix) };
      } else if (asked?.start !== undefined) {
        range = { start: asked.start, ...(asked.end !== undefined ? { end: asked.end } : {}) };
      }
      let object;
      try {
        object = await storage.get(key, range);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) throw new AppError('NOT_FOUND', 'No such VOD file.');
        if (err instanceof RangeNotSatisfiableError) return reply.status(416).header('content-range', `bytes */${err.size}`).send();
        throw err;
      }
      const cacheControl = isPrivate ? 'private, max-age=3600' : (object.cacheControl ?? IMMUTABLE);
      reply.header('content-type', object.contentType ?? guessContentType(file)).header('cache-control', cacheControl).header('accept-ranges', 'bytes');
      if (textual) return sendText(reply, await readAll(object.body), file, isPrivate ? `exp=${request.query.exp}&sig=${request.query.sig}` : null);
      reply.header('content-length', object.contentLength);
      if (object.range) reply.status(206).header('content-range', `bytes ${object.range.start}-${object.range.end}/${object.size}`);
      return reply.send(object.body);
    },
  );
};

async function readAll(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendText(reply: FastifyReply, text: string, file: string, signedQuery: string | null) {
  return reply.send(signedQuery ? passSignature(text, file, signedQuery) : text);
}
