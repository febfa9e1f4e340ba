// /api/v1/channels/:slug/webhooks: the channel owner's webhooks for stream.started, stream.ended and
// vod.ready. The signing secret is shown once, in the answer to the POST that creates the hook;
// after that only its last status and recent deliveries are visible.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely, Selectable } from 'kysely';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { BucketSpec, RateLimiter } from '../src/bus/rate-limiter.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { encryptStreamKey as encryptSecret } from '../src/channels/stream-key.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import type { SocialDb, WebhookEvent, WebhooksTable } from './social-tables.ts';
import { newWebhookSecret } from './webhook-delivery.ts';
import { checkWebhookUrl, type Resolve } from './webhook-url-guard.ts';
import { takeWrite, type WriteKind } from './write-limit.ts';

export interface WebhookRoutesOptions {
  db: Kysely<SocialDb>;
  accounts: AccountService;
  channels: Pick<ChannelService, 'requireOwned'>;
  limiter: RateLimiter;
  cipherKey: Buffer;
  allowPrivate: boolean;
  resolve?: Resolve;
  writeLimits?: Partial<Record<WriteKind, BucketSpec>>;
}

export const WEBHOOK_EVENTS = ['stream.started', 'stream.ended', 'vod.ready'] as const satisfies readonly WebhookEvent[];
export const MAX_WEBHOOKS_PER_CHANNEL = 10;

const Event = Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e)));
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const WebhookBody = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  lastStatus: Nullable(Type.String({ enum: ['delivered', 'retrying', 'failed'] })),
  lastStatusCode: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
});
const Params = Type.Object({ slug: Slug });
const HookParams = Type.Object({ slug: Slug, id: Type.String({ format: 'uuid' }) });

function toBody(row: Selectable<WebhooksTable>) {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    createdAt: row.created_at.toISOString(),
    lastStatus: row.last_status,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at ? row.last_attempt_at.toISOString() : null,
  };
}

export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = opts;
  const auth = requireUser(opts.accounts);
  const hookOf = async (channelId: string, id: string) => {
    const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('channel_id', '=', channelId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such webhook on this channel.');
    return row;
  };

  app.get(
    '/channels/:slug/webhooks',
    { preHandler: auth, schema: { tags: ['webhooks'], security: [{ bearer: [] }], params: Params, response: { 200: Type.Object({ webhooks: Type.Array(WebhookBody) }), ...errors(400, 401, 403, 404) } } },
    async (request) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const rows = await db.selectFrom('webhooks').selectAll().where('channel_id', '=', channel.id).orderBy('created_at').execute();
      return { webhooks: rows.map(toBody) };
    },
  );

  app.post(
    '/channels/:slug/webhooks',
    {
      preHandler: auth,
      schema: {
        tags: ['webhooks'],
        summary: 'Add a webhook. The answer holds its signing secret, shown this once.',
        security: [{ bearer: [] }],
        params: Params,
        body: Type.Object({ url: Type.String({ minLength: 1, maxLength: 2000 }), events: Type.Array(Event, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ ...WebhookBody.properties, secret: Type.String() }), ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const channel = await opts.channels.requireOwned(request.params.slug, user.id);
      await takeWrite(opts.limiter, 'webhook', user.id, opts.writeLimits);
      const url = await checkWebhookUrl(request.body.url, opts.allowPrivate, opts.resolve);
      const count = await db.selectFrom('webhooks').select((eb) => eb.fn.countAll<string | number>().as('n')).where('channel_id', '=', channel.id).executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_WEBHOOKS_PER_CHANNEL) throw new AppError('TOO_MANY_WEBHOOKS');
      const secret = newWebhookSecret();
      const row = await db
        .insertInto('webhooks')
        .values({ channel_id: channel.id, url: url.toString(), events: request.body.events as WebhookEvent[], secret_ciphertext: encryptSecret(opts.cipherKey, secret) })
        .returningAll()
        .executeTakeFirstOrThrow();
      return reply.status(201).send({ ...toBody(row), secret });
    },
  );

  app.delete(
    '/channels/:slug/webhooks/:id',
    { preHandler: auth, schema: { tags: ['webhooks'], security: [{ bearer: [] }], params: HookParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404) } } },
    async (request, reply) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const hook = await hookOf(channel.id, request.params.id);
      await db.deleteFrom('webhooks').where('id', '=', hook.id).execute();
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/channels/:slug/webhooks/:id/deliveries',
    {
      preHandler: auth,
      schema: {
        tags: ['webhooks'],
        summary: 'The 50 most recent deliveries of a webhook and how each went.',
        security: [{ bearer: [] }],
        params: HookParams,
        response: {
          200: Type.Object({
            deliveries: Type.Array(
              Type.Object({
                id: Type.String(),
                event: Type.String(),
                status: Type.String({ enum: ['pending', 'delivered', 'retrying', 'failed'] }),
                attempts: Type.Integer(),
                lastStatusCode: Nullable(Type.Integer()),
                lastError: Nullable(Type.String()),
                createdAt: Type.String({ format: 'date-time' }),
                lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
              }),
            ),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const channel = await opts.channels.requireOwned(request.params.slug, currentUser(request).id);
      const hook = await hookOf(channel.id, request.params.id);
      const rows = await db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', hook.id).orderBy('created_at', 'desc').limit(50).execute();
      return {
        deliveries: rows.map((r) => ({
          id: r.id,
          event: r.event,
          status: r.status,
          attempts: r.attempts,
          lastStatusCode: r.last_status_code,
          lastError: r.last_error,
          createdAt: r.created_at.toISOString(),
          lastAttemptAt: r.last_attempt_at ? r.last_attempt_at.toISOString() : null,
        })),
      };
    },
  );
};
