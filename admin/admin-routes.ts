// /api/v1/admin: users (search, roles, approval, suspension), instance settings, invites, live
// streams now (and ending one), storage used per channel, and the audit trail. Admins and instance
// moderators only; roles, settings and invites are for admins. Everyone else gets 403.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountAdmin, AdminUser } from '../src/accounts/account-admin.ts';
import type { AccountService } from '../src/accounts/account-service.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireRole } from '../src/http/auth-hook.ts';
import { errors } from '../src/http/schemas.ts';
import { SettingsPatch, SettingsSchema, type InstanceSettings } from '../src/instance/instance-settings.ts';
import { SuspensionBody, suspendInput } from './suspension-body.ts';

export interface LiveNow {
  channelId: string;
  slug: string;
  sessionId: string;
  startedAt: Date;
  viewers: number;
}

export interface AdminRoutesOptions {
  accounts: AccountService;
  admin: AccountAdmin;
  settings: InstanceSettings;
  /** Streams live now, on every node this one knows of. */
  liveNow: () => Promise<LiveNow[]>;
  /** Ends a channel's live stream (reason given by the caller's wiring). */
  endLive: (channelId: string) => Promise<boolean>;
  /** Recorded bytes per channel, largest first. */
  storageByChannel: (limit: number) => Promise<Array<{ channelId: string; slug: string; bytes: number }>>;
  /** Where invite links point. */
  linkBase: (request: FastifyRequest) => string;
}

const Uuid = Type.String({ format: 'uuid' });
const Role = Type.Union([Type.Literal('user'), Type.Literal('moderator'), Type.Literal('admin')]);
const AdminUserBody = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
  emailVerified: Type.Boolean(),
  pendingApproval: Type.Boolean(),
  channelId: Type.Union([Type.String(), Type.Null()]),
  suspension: Type.Union([
    Type.Object({ at: Type.String({ format: 'date-time' }), until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), reason: Type.String() }),
    Type.Null(),
  ]),
});

const userBody = (u: AdminUser) => ({
  ...u,
  createdAt: u.createdAt.toISOString(),
  suspension: u.suspension ? { at: u.suspension.at.toISOString(), until: u.suspension.until?.toISOString() ?? null, reason: u.suspension.reason } : null,
});

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const staff = requireRole(opts.accounts, 'staff');
  const adminOnly = requireRole(opts.accounts, 'admin');
  const secured = { security: [{ bearer: [] }], tags: ['admin'] };
  app.addHook('onRequest', async (_req, reply) => void reply.header('cache-control', 'no-store'));

  app.get(
    '/users',
    {
      preHandler: staff,
      schema: {
        ...secured,
        querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 254, pattern: '^[^\\u0000-\\u001F\\u007F]*$' })), after: Type.Optional(Type.String({ maxLength: 25 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ users: Type.Array(AdminUserBody) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => ({ users: (await opts.admin.listUsers({ q: request.query.q, after: request.query.after, limit: 50 })).map(userBody) }),
  );

  app.patch(
    '/users/:id',
    {
      preHandler: staff,
      schema: {
        ...secured,
        summary: 'Grant or revoke an instance role (admins), approve a pending account (admins and moderators).',
        params: Type.Object({ id: Uuid }),
        body: Type.Object({ role: Type.Optional(Role), approved: Type.Optional(Type.Literal(true)) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: AdminUserBody, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const actor = currentUser(request);
      let user: AdminUser | null = null;
      if (request.body.role !== undefined) {
        if (actor.role !== 'admin') throw new AppError('FORBIDDEN', 'Only instance admins may grant or revoke roles.');
        user = await opts.admin.setRole(actor, request.params.id, request.body.role);
      }
      if (request.body.approved) user = await opts.admin.approve(actor, request.params.id);
      return userBody(user!);
    },
  );

  app.put(
    '/users/:id/suspension',
    {
      preHandler: staff,
      schema: {
        ...secured,
        summary: 'Suspend an account: signed out everywhere, live stream ended, stream key refused, content optionally hidden.',
        params: Type.Object({ id: Uuid }),
        body: SuspensionBody,
        response: { 200: AdminUserBody, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => userBody(await opts.admin.suspend(currentUser(request), request.params.id, suspendInput(request.body))),
  );

  app.delete(
    '/users/:id/suspension',
    { preHandler: staff, schema: { ...secured, summary: 'Lift a suspension.', params: Type.Object({ id: Uuid }), response: { 200: AdminUserBody, ...errors(400, 401, 403, 404) } } },
    async (request) => userBody(await opts.admin.lift(currentUser(request), request.params.id)),
  );

  app.get('/settings', { preHandler: staff, schema: { ...secured, response: { 200: SettingsSchema, ...errors(401, 403) } } }, async () => opts.settings.current());

  app.patch(
    '/settings',
    { preHandler: adminOnly, schema: { ...secured, summary: 'Change instance settings; every node applies them without a restart.', body: SettingsPatch, response: { 200: SettingsSchema, ...errors(400, 401, 403) } } },
    async (request) => {
      const actor = currentUser(request);
      const next = await opts.settings.update(request.body, actor.id);
      await opts.admin.record(actor, 'settings-update', { details: request.body });
      return next;
    },
  );

  app.post(
    '/invites',
    {
      preHandler: adminOnly,
      schema: {
        ...secured,
        summary: 'A new invite link (shown once).',
        body: Type.Object({ maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), expiresInHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 90 })) }, { additionalProperties: false }),
        response: { 201: Type.Object({ code: Type.String(), url: Type.String(), expiresAt: Type.String({ format: 'date-time' }), maxUses: Type.Integer() }), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const invite = await opts.admin.createInvite(currentUser(request), { maxUses: request.body.maxUses ?? 1, expiresInHours: request.body.expiresInHours ?? 24 * 7 });
      return reply.status(201).send({ code: invite.code, url: `${opts.linkBase(request)}/signup?invite=${invite.code}`, expiresAt: invite.expiresAt.toISOString(), maxUses: invite.maxUses });
    },
  );

  app.get(
    '/live',
    {
      preHandler: staff,
      schema: {
        ...secured,
        response: {
          200: Type.Object({ live: Type.Array(Type.Object({ channelId: Type.String(), slug: Type.String(), sessionId: Type.String(), startedAt: Type.String({ format: 'date-time' }), viewers: Type.Integer() })) }),
          ...errors(401, 403),
        },
      },
    },
    async () => ({ live: (await opts.liveNow()).map((l) => ({ ...l, startedAt: l.startedAt.toISOString() })) }),
  );

  app.post(
    '/live/:channelId/end',
    { preHandler: staff, schema: { ...secured, summary: 'End a live stream now.', params: Type.Object({ channelId: Uuid }), response: { 204: Type.Null(), ...errors(400, 401, 403, 404) } } },
    async (request, reply) => {
      if (!(await opts.endLive(request.params.channelId))) throw new AppError('NOT_FOUND', 'That channel is not live.');
      await opts.admin.record(currentUser(request), 'live-end', { kind: 'channel', id: request.params.channelId });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/storage',
    {
      preHandler: staff,
      schema: { ...secured, summary: 'Recorded storage per channel, largest first.', response: { 200: Type.Object({ channels: Type.Array(Type.Object({ channelId: Type.String(), slug: Type.String(), bytes: Type.Number() })) }), ...errors(401, 403) } },
    },
    async () => ({ channels: await opts.storageByChannel(200) }),
  );

  app.get(
    '/audit',
    {
      preHandler: staff,
      schema: {
        ...secured,
        querystring: Type.Object({ before: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            entries: Type.Array(
              Type.Object({
                id: Type.String(),
                actor: Type.Union([Type.String(), Type.Null()]),
                action: Type.String(),
                targetUser: Type.Union([Type.String(), Type.Null()]),
                targetKind: Type.Union([Type.String(), Type.Null()]),
                targetId: Type.Union([Type.String(), Type.Null()]),
                details: Type.Record(Type.String(), Type.Unknown()),
                createdAt: Type.String({ format: 'date-time' }),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => ({
      entries: (await opts.admin.audit(100, request.query.before ? new Date(request.query.before) : undefined)).map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })),
    }),
  );
};
