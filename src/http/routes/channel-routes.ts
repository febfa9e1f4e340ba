// /api/v1/channels/:slug: public channel info, owner edits, and the stream key (show, rotate).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Channel, ChannelService } from '../../channels/channel-service.ts';
import type { AccountService } from '../../accounts/account-service.ts';
import { AppError } from '../../errors.ts';
import { bearerToken, currentUser, requireUser } from '../auth-hook.ts';
import { Slug, errors } from '../schemas.ts';

export interface ChannelRoutesOptions {
  accounts: AccountService;
  channels: ChannelService;
  /** The RTMP port actually listened on (configurable, or chosen by the OS in tests). */
  rtmpPort: () => number;
  publicUrl: string;
  /** Adds live status to the channel body; provided once the live pipeline is wired. */
  liveInfo?: (channel: Channel) => Promise<Record<string, unknown>>;
  /** Adds what depends on the viewer (follower count, whether they follow); null when anonymous. */
  viewerInfo?: (channel: Channel, viewerId: string | null) => Promise<Record<string, unknown>>;
}

const ChannelBody = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    title: Type.String(),
    description: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: true },
);

const StreamKeyBody = Type.Object({
  server: Type.String({ description: 'Paste into OBS: Settings → Stream → Server.' }),
  streamKey: Type.String({ description: 'Paste into OBS: Settings → Stream → Stream Key. Keep it secret.' }),
});

const Params = Type.Object({ slug: Slug });

export const channelRoutes: FastifyPluginAsync<ChannelRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const auth = requireUser(opts.accounts);

  const body = async (channel: Channel, viewerId: string | null = null) => ({
    id: channel.id,
    slug: channel.slug,
    title: channel.title,
    description: channel.description,
    createdAt: channel.createdAt.toISOString(),
    ...(opts.liveInfo ? await opts.liveInfo(channel) : {}),
    ...(opts.viewerInfo ? await opts.viewerInfo(channel, viewerId) : {}),
  });
  const viewerId = async (request: FastifyRequest): Promise<string | null> => {
    const token = bearerToken(request);
    return token === null ? null : (await opts.accounts.authenticate(token)).id;
  };

  const rtmpServer = (request: FastifyRequest): string => {
    const host = opts.publicUrl ? new URL(opts.publicUrl).hostname : request.hostname.replace(/:\d+$/, '');
    const port = opts.rtmpPort();
    return `rtmp://${host}${port === 1935 ? '' : `:${port}`}/live`;
  };

  app.get('/:slug', { schema: { tags: ['channels'], params: Params, response: { 200: ChannelBody, ...errors(400, 401, 404) } } }, async (request) => {
    const channel = await opts.channels.bySlug(request.params.slug);
    if (!channel) throw new AppError('NOT_FOUND', 'No such channel.');
    return body(channel, await viewerId(request));
  });

  app.patch(
    '/:slug',
    {
      preHandler: auth,
      schema: {
        tags: ['channels'],
        security: [{ bearer: [] }],
        params: Params,
        body: Type.Object(
          { title: Type.Optional(Type.String({ maxLength: 140 })), description: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ChannelBody, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      return body(await opts.channels.update(channel.id, request.body), currentUser(request).id);
    },
  );

  app.get(
    '/:slug/stream-key',
    {
      preHandler: auth,
      schema: { tags: ['channels'], security: [{ bearer: [] }], params: Params, response: { 200: StreamKeyBody, ...errors(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      reply.header('cache-control', 'no-store');
      return { server: rtmpServer(request), streamKey: await opts.channels.showStreamKey(channel.id) };
    },
  );

  app.post(
    '/:slug/stream-key',
    {
      preHandler: auth,
      schema: {
        tags: ['channels'],
        summary: 'Rotate the stream key: the old key stops working and a live stream on it ends.',
        security: [{ bearer: [] }],
        params: Params,
        response: { 200: StreamKeyBody, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      reply.header('cache-control', 'no-store');
      return { server: rtmpServer(request), streamKey: await opts.channels.rotateStreamKey(channel.id) };
    },
  );
};
