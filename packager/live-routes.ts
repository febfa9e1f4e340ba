// /api/v1/live: who is live now; /api/v1/channels/:slug/ingest-health: the owner's view of the
// incoming stream (bitrate, fps, resolution, codec, keyframe interval and warnings).
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

export interface LiveRoutesOptions {
  accounts: AccountService;
  channels: ChannelService;
  live: () => Array<Pick<LiveSessionView, 'snapshot'>>;
  liveSession: (channelId: string) => Pick<LiveSessionView, 'snapshot'> | null;
  viewers: ViewerCounter;
  publicUrl: string;
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

/** The live part of a channel's API body. */
export function liveStatus(opts: Pick<LiveRoutesOptions, 'liveSession' | 'viewers' | 'publicUrl'>, channel: Channel) {
  const session = opts.liveSession(channel.id)?.snapshot();
  if (!session) return { live: false };
  return {
    live: true,
    sessionId: session.id,
    startedAt: session.startedAt.toISOString(),
    playbackUrl: playbackUrl(opts.publicUrl, session.id),
    viewers: opts.viewers.count(session.id),
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
      const sessions = opts.live().map((s) => s.snapshot()).filter((s) => s.ready);
      const rows = await Promise.all(
        sessions.map(async (s) => {
          const channel = await opts.channels.bySlug(s.slug);
          return {
            slug: s.slug,
            title: channel?.title ?? '',
            sessionId: s.id,
            startedAt: s.startedAt.toISOString(),
            playbackUrl: playbackUrl(opts.publicUrl, s.id),
            viewers: opts.viewers.count(s.id),
          };
        }),
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
    async (request) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const session = opts.liveSession(channel.id)?.snapshot();
      if (!session) throw new AppError('NOT_FOUND', 'The channel is not live.');
      return {
        ...liveStatus(opts, channel),
        uptimeS: Math.round((Date.now() - session.startedAt.getTime()) / 1000),
        restarts: session.restarts,
        ...session.health,
      };
    },
  );
};
