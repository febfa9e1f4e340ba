// /api/v1/channels/:slug/…: the owner appoints moderators; the owner and moderators ban, unban,
// set slow mode, delete messages and read the audit trail. The socket offers the same actions
// (through the same ChatService) for moderating from the chat itself.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { Slug, Username, errors } from '../src/http/schemas.ts';
import { ChatError } from './chat-errors.ts';
import type { ChatChannel, ChatService } from './chat-service.ts';

export interface ModerationRoutesOptions {
  service: ChatService;
  accounts: AccountService;
  channels: Pick<ChannelService, 'bySlug' | 'requireOwned'>;
}

const SlugParams = Type.Object({ slug: Slug });
const UserParams = Type.Object({ slug: Slug, username: Username });
const PublicUserRef = Type.Object({ id: Type.String(), username: Type.String() });
const NoContent = Type.Null({ description: 'Done.' });

export const moderationRoutes: FastifyPluginAsync<ModerationRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { service } = opts;
  const auth = requireUser(opts.accounts);
  const guarded = { preHandler: auth };
  // Chat refusals leave as the API's errors; the root handler writes the body.
  app.setErrorHandler((err) => {
    throw err instanceof ChatError ? err.toAppError() : err;
  });

  const channel = async (slug: string): Promise<ChatChannel> => {
    const found = await opts.channels.bySlug(slug);
    if (!found) throw new AppError('NOT_FOUND', 'No such channel.');
    return { id: found.id, slug: found.slug, ownerId: found.ownerId };
  };
  const owned = async (slug: string, userId: string): Promise<ChatChannel> => {
    const found = await opts.channels.requireOwned(slug, userId);
    return { id: found.id, slug: found.slug, ownerId: found.ownerId };
  };
  const tags = ['chat'];
  const security = [{ bearer: [] }];

  app.get(
    '/:slug/moderators',
    { ...guarded, schema: { tags, security, params: SlugParams, response: { 200: Type.Object({ moderators: Type.Array(Type.Object({ ...PublicUserRef.properties, addedAt: Type.String() })) }), ...errors(401, 403, 404) } } },
    async (request) => ({ moderators: await service.moderators(await owned(request.params.slug, currentUser(request).id)) }),
  );

  app.put(
    '/:slug/moderators/:username',
    { ...guarded, schema: { tags, security, summary: 'Appoint a moderator (owner only); idempotent.', params: UserParams, response: { 200: PublicUserRef, ...errors(401, 403, 404) } } },
    async (request) => {
      const user = currentUser(request);
      return service.addModerator(await owned(request.params.slug, user.id), user, request.params.username);
    },
  );

  app.delete(
    '/:slug/moderators/:username',
    { ...guarded, schema: { tags, security, params: UserParams, response: { 204: NoContent, ...errors(401, 403, 404) } } },
    async (request, reply) => {
      const user = currentUser(request);
      await service.removeModerator(await owned(request.params.slug, user.id), user, request.params.username);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:slug/bans',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Bans and timeouts in force.',
        params: SlugParams,
        response: {
          200: Type.Object({
            bans: Type.Array(
              Type.Object({ user: PublicUserRef, expiresAt: Type.Union([Type.String(), Type.Null()]), reason: Type.String(), createdAt: Type.String(), by: Type.Union([Type.String(), Type.Null()]) }),
            ),
          }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request) => ({ bans: await service.bans(await channel(request.params.slug), currentUser(request).id) }),
  );

  app.post(
    '/:slug/bans',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Ban a user, or time them out with `seconds`.',
        params: SlugParams,
        body: Type.Object(
          { username: Username, seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 14 * 86400 })), reason: Type.Optional(Type.String({ maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { username, seconds, reason } = request.body;
      await service.restrict(await channel(request.params.slug), currentUser(request), username, seconds ?? null, reason);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/:slug/bans/:username',
    { ...guarded, schema: { tags, security, summary: 'Lift a ban or timeout.', params: UserParams, response: { 204: NoContent, ...errors(401, 403, 404) } } },
    async (request, reply) => {
      await service.unban(await channel(request.params.slug), currentUser(request), request.params.username);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/:slug/chat-settings',
    {
      ...guarded,
      schema: {
        tags,
        security,
        params: SlugParams,
        body: Type.Object({ slowModeS: Type.Integer({ minimum: 0, maximum: 86400, description: '0 turns slow mode off.' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ slowModeS: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await service.setSlowMode(await channel(request.params.slug), currentUser(request), request.body.slowModeS);
      return { slowModeS: request.body.slowModeS };
    },
  );

  app.delete(
    '/:slug/chat/messages/:id',
    {
      ...guarded,
      schema: { tags, security, params: Type.Object({ slug: Slug, id: Type.String({ format: 'uuid' }) }), response: { 204: NoContent, ...errors(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await service.deleteMessage(await channel(request.params.slug), currentUser(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:slug/chat-audit',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Moderation actions, newest first; page back with `before` = the last entry’s createdAt.',
        params: SlugParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), before: Type.Optional(Type.String({ format: 'date-time' })) }),
        response: {
          200: Type.Object({
            entries: Type.Array(
              Type.Object({
                id: Type.String(),
                action: Type.String(),
                actor: Type.Union([Type.String(), Type.Null()]),
                target: Type.Union([Type.String(), Type.Null()]),
                details: Type.Record(Type.String(), Type.Unknown()),
                createdAt: Type.String(),
              }),
            ),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      return { entries: await service.audit(await channel(request.params.slug), currentUser(request).id, limit, before ? new Date(before) : undefined) };
    },
  );
};
