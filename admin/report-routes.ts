// Reports: POST /api/v1/reports and GET /api/v1/reports/mine for every signed-in user; the queue
// and its actions under /api/v1/admin/reports for admins and instance moderators.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService } from '../src/accounts/account-service.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireRole, requireUser } from '../src/http/auth-hook.ts';
import { errors } from '../src/http/schemas.ts';
import type { ReportService, ReportView } from './report-service.ts';
import { SuspensionBody, suspendInput } from './suspension-body.ts';

const Uuid = Type.String({ format: 'uuid' });
const Kind = Type.Union([Type.Literal('channel'), Type.Literal('video'), Type.Literal('chat-message'), Type.Literal('comment')]);
const Status = Type.Union([Type.Literal('open'), Type.Literal('dismissed'), Type.Literal('content-deleted'), Type.Literal('user-suspended')]);

const Report = Type.Object({
  id: Type.String(),
  targetKind: Kind,
  targetId: Type.String(),
  reason: Type.String(),
  status: Status,
  resolutionNote: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  resolvedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const QueuedReport = Type.Object({ ...Report.properties, reporter: Type.Union([Type.String(), Type.Null()]), targetUser: Type.Union([Type.String(), Type.Null()]), targetUserId: Type.Union([Type.String(), Type.Null()]) });

const mine = (r: ReportView) => ({
  id: r.id,
  targetKind: r.targetKind,
  targetId: r.targetId,
  reason: r.reason,
  status: r.status,
  resolutionNote: r.resolutionNote,
  createdAt: r.createdAt.toISOString(),
  resolvedAt: r.resolvedAt?.toISOString() ?? null,
});
const queued = (r: ReportView) => ({ ...mine(r), reporter: r.reporter, targetUser: r.targetUser, targetUserId: r.targetUserId });

export const reportRoutes: FastifyPluginAsync<{ accounts: AccountService; reports: ReportService }> = async (fastify, { accounts, reports }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const auth = requireUser(accounts);
  const staff = requireRole(accounts, 'staff');

  app.post(
    '/reports',
    {
      preHandler: auth,
      schema: {
        tags: ['reports'],
        summary: 'Report a channel, a video, a chat message or a comment to the instance moderators.',
        security: [{ bearer: [] }],
        body: Type.Object({ targetKind: Kind, targetId: Uuid, reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: { 201: Report, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => reply.status(201).send(mine(await reports.create(currentUser(request).id, request.body))),
  );

  app.get(
    '/reports/mine',
    { preHandler: auth, schema: { tags: ['reports'], summary: 'Your reports and what came of them.', security: [{ bearer: [] }], response: { 200: Type.Object({ reports: Type.Array(Report) }), ...errors(401, 403) } } },
    async (request) => ({ reports: (await reports.mine(currentUser(request).id, 100)).map(mine) }),
  );

  app.get(
    '/admin/reports',
    {
      preHandler: staff,
      schema: {
        tags: ['admin'],
        security: [{ bearer: [] }],
        querystring: Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false }),
        response: { 200: Type.Object({ reports: Type.Array(QueuedReport) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => ({ reports: (await reports.queue(request.query.status ?? 'open', 200)).map(queued) }),
  );

  app.post(
    '/admin/reports/:id/resolve',
    {
      preHandler: staff,
      schema: {
        tags: ['admin'],
        summary: 'Act on a report: dismiss it, delete the content, or suspend its author. The reporter is told.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Uuid }),
        body: Type.Object(
          {
            action: Type.Union([Type.Literal('dismiss'), Type.Literal('delete-content'), Type.Literal('suspend')]),
            note: Type.Optional(Type.String({ maxLength: 1000 })),
            suspension: Type.Optional(SuspensionBody),
          },
          { additionalProperties: false },
        ),
        response: { 200: QueuedReport, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { action, note, suspension } = request.body;
      const actor = currentUser(request);
      if (action === 'suspend') {
        if (!suspension) throw new AppError('VALIDATION', 'Say why and for how long in "suspension".');
        return queued(await reports.resolve(actor, request.params.id, { action, note, suspension: suspendInput(suspension) }));
      }
      return queued(await reports.resolve(actor, request.params.id, { action, note }));
    },
  );
};
