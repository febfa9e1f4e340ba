// /hls/<session>/…: live playlists from memory (blocking reload, delta updates) and the media
// files under MEDIA_DIR/live. nginx serves existing media files itself and sends only playlists
// and not-yet-written parts here; in the embedded setup this serves everything.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decideReload, parseReloadQuery } from './blocking-reload.ts';
import type { LiveSession } from './live-session.ts';
import type { RenditionPackager } from './rendition-packager.ts';
import { AppError } from '../src/errors.ts';
import { guessContentType } from '../src/storage/content-type.ts';
import type { ViewerCounter } from './viewer-counter.ts';

export interface HlsRoutesOptions {
  mediaDir: string;
  session: (id: string) => LiveSession | null;
  viewers: ViewerCounter;
}

const SessionId = Type.String({ pattern: '^[0-9a-f-]{36}$' });
const Rendition = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });
const MediaFile = Type.String({ pattern: '^(init-[0-9]{1,6}\\.mp4|part-[0-9]{1,9}\\.m4s|seg-[0-9]{1,9}\\.m4s)$' });
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

function waitForUpdate(packager: RenditionPackager, until: () => boolean, timeoutMs: number): Promise<boolean> {
  if (until()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onUpdate = () => {
      if (!until()) return;
      finish(true);
    };
    const timer = setTimeout(() => finish(until()), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      packager.off('update', onUpdate);
      resolve(ok);
    };
    packager.on('update', onUpdate);
  });
}

export const hlsRoutes: FastifyPluginAsync<HlsRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onSend', async (_request, reply) => void reply.header('access-control-allow-origin', '*'));

  const liveSession = (id: string) => {
    const session = opts.session(id);
    if (!session) throw new AppError('NOT_FOUND', 'No such live stream.');
    return session;
  };
  const sendPlaylist = (reply: FastifyReply, text: string) => reply.header('content-type', PLAYLIST_TYPE).header('cache-control', 'no-cache').send(text);

  app.get('/:session/master.m3u8', { schema: { hide: true, params: Type.Object({ session: SessionId }) } }, async (request, reply) => {
    const session = liveSession(request.params.session);
    // Right after a publish the renditions' init sections are a moment away.
    const first = session.packagers.values().next().value;
    if (!session.ready && first) await waitForUpdate(first, () => session.ready, 10_000);
    if (!session.ready) throw new AppError('UNAVAILABLE', 'The stream is starting; try again in a moment.');
    return sendPlaylist(reply, session.masterPlaylist());
  });

  app.get(
    '/:session/:rendition/index.m3u8',
    { schema: { hide: true, params: Type.Object({ session: SessionId, rendition: Rendition }) } },
    async (request, reply) => {
      const session = liveSession(request.params.session);
      const packager = session.packagers.get(request.params.rendition);
      if (!packager) throw new AppError('NOT_FOUND', 'No such rendition.');
      opts.viewers.touch(session.id, request.ip, request.headers['user-agent'] ?? '');
      const query = parseReloadQuery(request.query as Record<string, unknown>);
      if ('error' in query) throw new AppError('BAD_REQUEST', `Bad playlist request: ${query.error}.`);
      let decision = decideReload(packager.state, query);
      if (typeof decision === 'object') throw new AppError('BAD_REQUEST', 'That part is too far ahead of the live edge.');
      if (decision === 'wait') {
        // Hold the request until the part exists (§6.2.5.2), at most three target durations.
        const ok = await waitForUpdate(packager, () => decideReload(packager.state, query) === 'ready', Math.max(3000, packager.state.targetDuration * 3000));
        if (!ok) throw new AppError('UNAVAILABLE', 'The requested part did not arrive in time.');
        decision = 'ready';
      }
      if (packager.state.segments.length === 0 && packager.state.pendingParts.length === 0) {
        await waitForUpdate(packager, () => packager.state.pendingParts.length > 0 || packager.state.ended, 10_000);
      }
      return sendPlaylist(reply, session.mediaPlaylist(packager.name, query.skip)!);
    },
  );

  app.get(
    '/:session/:rendition/:file',
    { schema: { hide: true, params: Type.Object({ session: SessionId, rendition: Rendition, file: MediaFile }) } },
    async (request, reply) => {
      const { session: sessionId, rendition, file } = request.params;
      const full = path.join(opts.mediaDir, 'live', sessionId, rendition, file);
      let info = await stat(full).catch(() => null);
      if (!info) {
        // The preload-hinted part (or the one after it) is held until it is written.
        const session = opts.session(sessionId);
        const packager = session?.packagers.get(rendition);
        const partNumber = /^part-(\d+)\.m4s$/.exec(file)?.[1];
        const n = Number(partNumber);
        // The hinted part (or the next) is held until written; the newest part may be numbered
        // but still being renamed into place, so it waits for the writes too.
        if (packager && partNumber !== undefined && n >= packager.nextPartNumber - 1 && n <= packager.nextPartNumber + 1) {
          await waitForUpdate(packager, () => packager.nextPartNumber > n || packager.state.ended, Math.max(3000, packager.state.targetDuration * 3000));
          await packager.idle();
          info = await stat(full).catch(() => null);
        }
        // A segment is listed as soon as its last part is in, while its file is still queued for
        // writing: a player (or nginx falling through here) asking at that moment waits for the write.
        const segmentNumber = /^seg-(\d+)\.m4s$/.exec(file)?.[1];
        if (packager && segmentNumber !== undefined && packager.state.segments.some((s) => s.mediaSequence === Number(segmentNumber))) {
          await packager.idle();
          info = await stat(full).catch(() => null);
        }
      }
      if (!info) throw new AppError('NOT_FOUND', 'No such media file.');
      return reply
        .header('content-type', guessContentType(file))
        .header('content-length', info.size)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(createReadStream(full));
    },
  );
};
