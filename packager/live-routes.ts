// /api/v1/live: who is live now, on any node (read from the database); /api/v1/channels/:slug/
// ingest-health: the owner's view of the incoming stream (bitrate, fps, resolution, codec, keyframe
// interval and warnings), answered by the node that ingests it.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { LiveSessionView } from './live-session-view.ts';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { Channel, ChannelService } from '../src/channels/channel-service.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import type { ViewerCounter } from './viewer-counter.ts';
import type { LiveDirectory } from './live-directory.ts';
import { PROXIED_HEADER, type OwnerProxy } from './owner-proxy.ts';

export interface LiveRoutesOptions {
  accounts: AccountService;
  channels: ChannelService;
  /** A session this node ingests, for its health; other nodes' sessions are read from the directory. */
  liveSession: (channelId: string) => Pick<LiveSessionView, 'snapshot'> | null;
  directory: Pick<LiveDirectory, 'live' | 'byChannel' | 'owner'>;
  viewers: Pick<ViewerCounter, 'countAnywhere'>;
  publicUrl: string;
  proxy?: OwnerProxy;
}

const LiveStatus = Type.Object({
  live: Type.Boolean(),
  sessionId: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  playbackUrl: Type.Optional(Type.String()),
  viewers: Type.Optional(Type.Integer()),
});

export function playbackUrl(publicUrl: string, sessionId: string): string {
  return `${publicUrl}/hls/${sessionId}/master.m3u8`;
}

/** The live part of a channel's API body: the same on every node. */
export async function liveStatus(opts: Pick<LiveRoutesOptions, 'liveSession' | 'directory' | 'viewers' | 'publicUrl'>, channel: Channel) {
  const here = opts.liveSession(channel.id)?.snapshot();
  const entry = here ? { sessionId: here.id, startedAt: here.startedAt } : await opts.directory.byChannel(channel.id);
  if (!entry) return { live: false };
  return {
    live: true,
    sessionId: entry.sessionId,
    startedAt: entry.startedAt.toISOString(),
    playbackUrl: playbackUrl(opts.publicUrl, entry.sessionId),
    viewers: await opts.viewers.countAnywhere(entry.sessionId, here !== undefined),
  };
}

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/live',
    {
      schema: {
        tags: ['live'],
        summary: 'Channels live now, most watched first.',
        response: {
          200: Type.Object({
            live: Type.Array(
              Type.Object({ slug: Type.String(), title: Type.String(), sessionId: Type.String(), startedAt: Type.String(), playbackUrl: Type.String(), viewers: Type.Integer() }),
            ),
          }),
        },
      },
    },
    async () => {
      const sessions = await opts.directory.live();
      const rows = await Promise.all(
        sessions.map(async (s) => ({
          slug: s.slug,
          title: s.title,
          sessionId: s.sessionId,
          startedAt: s.startedAt.toISOString(),
          playbackUrl: playbackUrl(opts.publicUrl, s.sessionId),
          viewers: await opts.viewers.countAnywhere(s.sessionId, opts.liveSession(s.channelId)?.snapshot().id === s.sessionId),
        })),
      );
      return { live: rows.sort((a, b) => b.viewers - a.viewers) };
    },
  );

  app.get(
    '/channels/:slug/ingest-health',
    {
      preHandler: requireUser(opts.accounts),
      schema: {
        tags: ['live'],
        security: [{ bearer: [] }],
        params: Type.Object({ slug: Slug }),
        response: {
          200: Type.Object({
            ...LiveStatus.properties,
            uptimeS: Type.Integer(),
            restarts: Type.Integer(),
            bitrateKbps: Type.Number(),
            fps: Type.Number(),
            keyframeIntervalS: Type.Union([Type.Number(), Type.Null()]),
            width: Type.Union([Type.Integer(), Type.Null()]),
            height: Type.Union([Type.Integer(), Type.Null()]),
            videoCodec: Type.Union([Type.String(), Type.Null()]),
            audioCodec: Type.Union([Type.String(), Type.Null()]),
            warnings: Type.Array(Type.String()),
          }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const session = opts.liveSession(channel.id)?.snapshot();
      if (!session) {
        // Ingested by another node: only it knows the incoming stream.
        const elsewhere = opts.proxy && !request.headers[PROXIED_HEADER] ? await opts.directory.byChannel(channel.id) : null;
        const owner = elsewhere ? await opts.directory.owner(elsewhere.sessionId) : null;
        if (!owner) throw new AppError('NOT_FOUND', 'The channel is not live.');
        await opts.proxy!.forward(request, reply, owner.ownerUrl, { authorization: request.headers.authorization ?? '' });
        return reply;
      }
      return {
        ...(await liveStatus(opts, channel)),
        uptimeS: Math.round((Date.now() - session.startedAt.getTime()) / 1000),
        restarts: session.restarts,
        ...session.health,
      };
    },
  );
};
