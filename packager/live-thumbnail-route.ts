// GET /api/v1/channels/:slug/thumbnail.jpg: a preview picture of a live channel for the home page,
// the first frame of the newest complete segment of its smallest rendition. Made with ffmpeg at
// most once per channel every CACHE_MS, however many people load the home page; 404 when offline.
// A stream another node ingests is pictured by that node (its files are on its disk).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { execFfmpeg } from './ffmpeg-exec.ts';
import type { LiveSessionView, LiveSnapshot } from './live-session-view.ts';
import type { Channel } from '../src/channels/channel-service.ts';
import { AppError } from '../src/errors.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import { PROXIED_HEADER, type OwnerProxy } from './owner-proxy.ts';

export interface LiveThumbnailOptions {
  channels: { bySlug(slug: string): Promise<Channel | null> };
  liveSession: (channelId: string) => Pick<LiveSessionView, 'id' | 'snapshot'> | null;
  /** MEDIA_DIR: live files are under MEDIA_DIR/live/<session>/<rendition>/ */
  mediaDir: string;
  ffmpegPath: string;
  /** The node serving a channel's stream when it is not here, and how to ask it. */
  remote?: { owner: (channelId: string) => Promise<{ ownerUrl: string } | null>; proxy: OwnerProxy };
}

export const CACHE_MS = 10_000;
const WIDTH = 320;

interface Cached {
  at: number;
  sessionId: string;
  jpeg: Promise<Buffer>;
}

/** The init section and newest segment files of a session's smallest rendition, if it has one yet. */
export function newestSegmentFiles(session: Pick<LiveSnapshot, 'id' | 'renditions'>, mediaDir: string): { init: string; segment: string } | null {
  const smallest = [...session.renditions].sort((a, b) => a.height - b.height)[0];
  const segment = smallest?.newestSegment;
  if (!smallest || !segment) return null;
  const dir = path.join(mediaDir, 'live', session.id, smallest.name);
  return { init: path.join(dir, segment.mapUri), segment: path.join(dir, segment.uri) };
}

export const liveThumbnailRoute: FastifyPluginAsync<LiveThumbnailOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const cache = new Map<string, Cached>();

  const render = async (session: Pick<LiveSessionView, 'snapshot'>): Promise<Buffer> => {
    const files = newestSegmentFiles(session.snapshot(), opts.mediaDir);
    if (!files) throw new AppError('UNAVAILABLE', 'The stream has no picture yet; try again in a moment.');
    // init + segment is a complete fMP4 file; ffmpeg reads it from stdin.
    const media = Buffer.concat([await readFile(files.init), await readFile(files.segment)]);
    return execFfmpeg(opts.ffmpegPath, ['-f', 'mp4', '-i', 'pipe:0', '-frames:v', '1', '-vf', `scale=${WIDTH}:-2`, '-q:v', '5', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], media, 10_000);
  };

  app.get(
    '/:slug/thumbnail.jpg',
    {
      schema: {
        tags: ['live'],
        summary: 'A recent JPEG of a live channel (320 px wide), refreshed about every 10 s.',
        params: Type.Object({ slug: Slug }),
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'image/jpeg' }), ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const channel = await opts.channels.bySlug(request.params.slug);
      if (!channel) throw new AppError('NOT_FOUND', 'No such channel.');
      const session = opts.liveSession(channel.id);
      if (!session) {
        cache.delete(channel.id);
        const owner = opts.remote && !request.headers[PROXIED_HEADER] ? await opts.remote.owner(channel.id) : null;
        if (!owner) throw new AppError('NOT_FOUND', 'The channel is not live.');
        await opts.remote!.proxy.forward(request, reply, owner.ownerUrl);
        return reply;
      }
      const now = Date.now();
      for (const [id, entry] of cache) if (now - entry.at > CACHE_MS * 6) cache.delete(id);
      let entry = cache.get(channel.id);
      if (!entry || entry.sessionId !== session.id || now - entry.at > CACHE_MS) {
        entry = { at: now, sessionId: session.id, jpeg: render(session) };
        cache.set(channel.id, entry);
        // A failure is not cached: the next request tries again.
        const failed = entry;
        entry.jpeg.catch(() => cache.get(channel.id) === failed && cache.delete(channel.id));
      }
      let jpeg: Buffer;
      try {
        jpeg = await entry.jpeg;
      } catch (err) {
        if (err instanceof AppError) throw err;
        request.log.warn({ err, channelId: channel.id }, 'making a live thumbnail failed');
        throw new AppError('UNAVAILABLE', 'The preview picture could not be made; try again in a moment.');
      }
      const maxAge = Math.max(1, Math.round((CACHE_MS - (Date.now() - entry.at)) / 1000));
      return reply.header('content-type', 'image/jpeg').header('cache-control', `public, max-age=${maxAge}`).send(jpeg);
    },
  );
};
