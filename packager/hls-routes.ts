// /hls/<session>/…: live playlists and parts from memory (blocking reload, delta updates,
// preload hints), and the init sections and segments under MEDIA_DIR/live. nginx serves those
// files itself and sends playlists and parts here; in the embedded setup this serves everything. A session another
// node owns is answered through that node (owner-proxy.ts).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { parseReloadQuery } from './blocking-reload.ts';
import type { LiveSessionView } from './live-session-view.ts';
import { IMMUTABLE, NO_CACHE } from './stream-defs.ts';
import { AppError } from '../src/errors.ts';
import { guessContentType } from '../src/storage/content-type.ts';
import { viewerKey, type ViewerCounter } from './viewer-counter.ts';
import { PROXIED_HEADER, VIEWER_HEADER, type OwnerProxy } from './owner-proxy.ts';
import type { SessionOwner } from './live-directory.ts';

export interface HlsRoutesOptions {
  mediaDir: string;
  session: (id: string) => Pick<LiveSessionView, 'id' | 'hasRendition' | 'waitForMaster' | 'mediaPlaylist' | 'part' | 'waitForFile'> | null;
  viewers: Pick<ViewerCounter, 'touch'>;
  /** The node serving a session this node does not hold, and how to reach it; absent on a lone node. */
  /**
   * Cache lifetime of an answer to a blocking reload (a request naming _HLS_msn): the same for
   * everyone who asks, so an edge or CDN may serve it for a few target durations. A bare playlist
   * request is never cacheable.
   */
  blockingCacheS?: number;
  /** Counts playlist requests while they are held (/metrics). */
  metrics?: { holding<T>(wait: Promise<T>): Promise<T> };
  remote?: { owner: (sessionId: string) => Promise<SessionOwner | null>; proxy: OwnerProxy };
}

const SessionId = Type.String({ pattern: '^[0-9a-f-]{36}$' });
const Rendition = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });
const MediaFile = Type.String({ pattern: '^(init-[0-9]{1,6}\\.mp4|part-[0-9]{1,9}\\.m4s|seg-[0-9]{1,9}\\.m4s)$' });
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

export const hlsRoutes: FastifyPluginAsync<HlsRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onSend', async (_request, reply) => void reply.header('access-control-allow-origin', '*'));

  /**
   * A session this node does not hold is forwarded to its owner (unless this request came from
   * another node already: no loops). True when it was (the answer is on its way), false when the
   * session is here.
   */
  const viaOwner = async (id: string, request: FastifyRequest, reply: FastifyReply, headers: Record<string, string> = {}): Promise<boolean> => {
    if (opts.session(id)) return false;
    const owner = opts.remote && !request.headers[PROXIED_HEADER] ? await opts.remote.owner(id) : null;
    if (!owner) throw new AppError('NOT_FOUND', 'No such live stream.');
    await opts.remote!.proxy.forward(request, reply, owner.ownerUrl, headers);
    return true;
  };
  const liveSession = (id: string) => {
    const session = opts.session(id);
    if (!session) throw new AppError('NOT_FOUND', 'No such live stream.');
    return session;
  };
  // Counted where the viewer arrived: a proxying node passes its key on, the owner counts it.
  const clientKey = (request: FastifyRequest) => {
    const passed = request.headers[PROXIED_HEADER] ? request.headers[VIEWER_HEADER] : undefined;
    return typeof passed === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(passed) ? passed : viewerKey(request.ip, request.headers['user-agent'] ?? '');
  };
  const sendPlaylist = (reply: FastifyReply, text: string) => reply.header('content-type', PLAYLIST_TYPE).header('cache-control', NO_CACHE).send(text);

  app.get('/:session/master.m3u8', { schema: { hide: true, params: Type.Object({ session: SessionId }) } }, async (request, reply) => {
    if (await viaOwner(request.params.session, request, reply)) return reply;
    const session = liveSession(request.params.session);
    // Right after a publish the renditions' init sections are a moment away.
    const master = await session.waitForMaster(10_000);
    if (master === null) throw new AppError('UNAVAILABLE', 'The stream is starting; try again in a moment.');
    return sendPlaylist(reply, master);
  });

  app.get(
    '/:session/:rendition/index.m3u8',
    { schema: { hide: true, params: Type.Object({ session: SessionId, rendition: Rendition }) } },
    async (request, reply) => {
      const { rendition } = request.params;
      if (await viaOwner(request.params.session, request, reply, { [VIEWER_HEADER]: clientKey(request) })) return reply;
      const session = liveSession(request.params.session);
      if (!session.hasRendition(rendition)) throw new AppError('NOT_FOUND', 'No such rendition.');
      opts.viewers.touch(session.id, clientKey(request));
      const query = parseReloadQuery(request.query as Record<string, unknown>);
      if ('error' in query) throw new AppError('BAD_REQUEST', `Bad playlist request: ${query.error}.`);
      const answer = session.mediaPlaylist(rendition, query);
      const result = await (query.msn !== undefined && opts.metrics ? opts.metrics.holding(answer) : answer);
      if (result.kind === 'ready') {
        if (query.msn === undefined) return sendPlaylist(reply, result.text);
        return reply.header('content-type', PLAYLIST_TYPE).header('cache-control', `public, max-age=${opts.blockingCacheS ?? 6}`).send(result.text);
      }
      if (result.code === 'too-far-ahead') throw new AppError('BAD_REQUEST', 'That part is too far ahead of the live edge.');
      if (result.code === 'timeout') throw new AppError('UNAVAILABLE', 'The requested part did not arrive in time.');
      throw new AppError('NOT_FOUND', 'No such rendition.');
    },
  );

  app.get(
    '/:session/:rendition/:file',
    { schema: { hide: true, params: Type.Object({ session: SessionId, rendition: Rendition, file: MediaFile }) } },
    async (request, reply) => {
      const { session: sessionId, rendition, file } = request.params;
      const partNumber = /^part-(\d+)\.m4s$/.exec(file)?.[1];
      if (partNumber !== undefined) {
        if (await viaOwner(sessionId, request, reply)) return reply;
        const data = await liveSession(sessionId).part(rendition, Number(partNumber));
        if (!data) throw new AppError('NOT_FOUND', 'No such part.');
        return reply.header('content-type', guessContentType(file)).header('cache-control', IMMUTABLE).send(data);
      }
      const full = path.join(opts.mediaDir, 'live', sessionId, rendition, file);
      let info = await stat(full).catch(() => null);
      if (!info) {
        // Written on the owner's disk, not here.
        if (await viaOwner(sessionId, request, reply)) return reply;
        // A listed segment still being written is held until it is on disk.
        const session = opts.session(sessionId);
        if (session && (await session.waitForFile(rendition, file))) info = await stat(full).catch(() => null);
      }
      if (!info) throw new AppError('NOT_FOUND', 'No such media file.');
      return reply
        .header('content-type', guessContentType(file))
        .header('content-length', info.size)
        .header('cache-control', IMMUTABLE)
        .send(createReadStream(full));
    },
  );
};
