// /vod/<id>/…: a ready VOD's playlists, media and pictures, streamed from Storage with HTTP Range
// support. Private VODs need the signed query of their playback URL, which every playlist passes on
// to the files it names (relative URIs would otherwise drop it). With CDN_URL set, public media is
// a redirect to the CDN.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { IMMUTABLE } from '../packager/stream-defs.ts';
import type { VodUrlSigner } from './vod-url-signer.ts';
import type { VodDb } from './vod-tables.ts';
import { AppError } from '../src/errors.ts';
import { absoluteRange, parseByteRange } from '../src/http/byte-range.ts';
import { guessContentType } from '../src/storage/content-type.ts';
import { ObjectNotFoundError, RangeNotSatisfiableError, type ByteRange, type Storage } from '../src/storage/storage.ts';

export interface VodMediaRoutesOptions {
  db: Kysely<VodDb>;
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
      const asked = textual ? null : parseByteRange(request.headers.range);
      if (asked && 'suffix' in asked) {
        const size = (await storage.head(key))?.size;
        if (size === undefined) throw new AppError('NOT_FOUND', 'No such VOD file.');
        range = absoluteRange(asked, size);
      } else if (asked) {
        range = asked;
      }
      let object;
      try {
        object = await storage.get(key, range);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) throw new AppError('NOT_FOUND', 'No such VOD file.');
        if (err instanceof RangeNotSatisfiableError) {
          reply.header('content-range', `bytes */${err.size}`);
          throw new AppError('RANGE_NOT_SATISFIABLE');
        }
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
