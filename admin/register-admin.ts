// The admin room: the admin API, the reports (filing and the queue) and the instance's public
// description. main.ts calls it once buildApp has returned, handing in how to reach the other
// rooms' things (live streams, storage, reported content).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { AccountAdmin } from '../src/accounts/account-admin.ts';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { InstanceSettings } from '../src/instance/instance-settings.ts';
import type { Logger } from '../src/log.ts';
import { adminRoutes, type AdminRoutesOptions } from './admin-routes.ts';
import type { AdminDb } from './admin-tables.ts';
import { reportRoutes } from './report-routes.ts';
import { ReportService, type ReportOutcome, type ReportTargets } from './report-service.ts';

export interface AdminDeps {
  db: Kysely<AdminDb>;
  limiter: RateLimiter;
  log: Logger;
  accounts: AccountService;
  admin: AccountAdmin;
  settings: InstanceSettings;
  targets: ReportTargets;
  notify: (userId: string, outcome: ReportOutcome) => Promise<void>;
  liveNow: AdminRoutesOptions['liveNow'];
  endLive: AdminRoutesOptions['endLive'];
  storageByChannel: AdminRoutesOptions['storageByChannel'];
  linkBase: (request: FastifyRequest) => string;
  /** Tests raise or lower the reports limit. */
  reportLimit?: { capacity: number; refillPerSecond: number };
}

export interface AdminHandle {
  reports: ReportService;
  close(): Promise<void>;
}

export async function registerAdmin(app: FastifyInstance, deps: AdminDeps): Promise<AdminHandle> {
  const log = deps.log.child({ mod: 'admin' });
  const reports = new ReportService({
    db: deps.db,
    limiter: deps.limiter,
    log,
    targets: deps.targets,
    suspend: (actor, userId, input) => deps.admin.suspend(actor, userId, input),
    notify: deps.notify,
    limit: deps.reportLimit,
  });
  await app.register(reportRoutes, { prefix: '/api/v1', accounts: deps.accounts, reports });
  await app.register(adminRoutes, {
    prefix: '/api/v1/admin',
    accounts: deps.accounts,
    admin: deps.admin,
    settings: deps.settings,
    liveNow: deps.liveNow,
    endLive: deps.endLive,
    storageByChannel: deps.storageByChannel,
    linkBase: deps.linkBase,
  });
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/v1/instance',
    {
      schema: {
        tags: ['instance'],
        summary: "The instance's name, description and who may sign up.",
        response: { 200: Type.Object({ name: Type.String(), description: Type.String(), registration: Type.String() }) },
      },
    },
    async () => {
      const { name, description, registration } = deps.settings.current();
      return { name, description, registration };
    },
  );
  deps.admin.sweepExpired();
  return { reports, close: async () => deps.admin.close() };
}
