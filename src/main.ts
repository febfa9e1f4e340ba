// The only file that knows the whole graph: it builds every component from the configuration,
// hands each its dependencies, and closes them in reverse order on shutdown.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { AdminDb, AdminTables } from '../admin/admin-tables.ts';
import { registerAdmin, type AdminHandle } from '../admin/register-admin.ts';
import { ChatError } from '../chat/chat-errors.ts';
import type { ChatDb, ChatTables } from '../chat/chat-tables.ts';
import { registerChat, type ChatHandle } from '../chat/register-chat.ts';
import { RtmpIngest } from '../ingest/rtmp-ingest.ts';
import { planLadder } from '../packager/ladder-plan.ts';
import { LiveManager } from '../packager/live-manager.ts';
import type { LiveTables } from '../packager/live-tables.ts';
import { registerVod, type VodHandle } from '../vod/register-vod.ts';
import { StorageQuota } from '../vod/storage-quota.ts';
import { deleteRecording, findRecording } from '../vod/vod-delete.ts';
import type { VodDb, VodTables } from '../vod/vod-tables.ts';
import { webRoutes } from '../web/web-routes.ts';
import { AccountAdmin } from './accounts/account-admin.ts';
import { AccountService, type AccountDb } from './accounts/account-service.ts';
import { ACCOUNT_MAIL_QUEUE, PasswordService, type AccountMailJob } from './accounts/password-service.ts';
import { AppError } from './errors.ts';
import { InstanceSettings } from './instance/instance-settings.ts';
import type { InstanceTables } from './instance/instance-tables.ts';
import { createMailer } from './mail/mailer.ts';
import type { AccountTables } from './accounts/account-tables.ts';
import type { BusBackend } from './bus/create-bus.ts';
import { ChannelService } from './channels/channel-service.ts';
import type { ChannelTables } from './channels/channel-tables.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { JobTables } from './jobs/database-jobs.ts';
import type { MigrationTables } from './db/migrate.ts';
import { narrow } from './db/narrow.ts';
import { buildApp } from './http/app.ts';
import { liveStatus } from '../packager/live-routes.ts';
import { registerLive } from '../packager/register-live.ts';
import { ViewerCounter } from '../packager/viewer-counter.ts';
import { createLogger, logDestination, type Logger } from './log.ts';
import { closeInReverse, loadConfigOrExit, openServices, runIfEntry, stopOnSignals } from './process-entry.ts';
import { deriveKeys, loadServerSecret } from './secrets.ts';
import type { Storage } from './storage/storage.ts';

/** The whole schema: every room's tables. Each room is handed a view of just the ones it declares. */
export type AppTables = MigrationTables & AccountTables & ChannelTables & JobTables & LiveTables & VodTables & ChatTables & InstanceTables & AdminTables;

export interface Server {
  config: Config;
  app: FastifyInstance;
  database: Database<AppTables>;
  bus: BusBackend;
  storage: Storage;
  accounts: AccountService;
  passwords: PasswordService;
  accountAdmin: AccountAdmin;
  settings: InstanceSettings;
  channels: ChannelService;
  live: LiveManager;
  ingest: RtmpIngest;
  chat: ChatHandle;
  recording: VodHandle;
  admin: AdminHandle;
  /** Listens on config.host:config.port; returns the HTTP base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createServer(config: Config, log: Logger): Promise<Server> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = () => closeInReverse(closers, log);
  try {
    await mkdir(config.dataDir, { recursive: true });
    const keys = deriveKeys(await loadServerSecret(config.secretKey, config.dataDir));
    const { database, bus, jobs, storage } = await openServices<AppTables>(config, log, closers);

    const db = narrow(database.db);
    // The environment gives the first values; after that the database (edited on the admin page) rules.
    const settings = new InstanceSettings({
      db: db.to<InstanceTables>(),
      bus,
      log: log.child({ mod: 'instance' }),
      defaults: {
        name: config.instanceName,
        description: '',
        registration: config.registration,
        uploadLimitMb: 0,
        recordingLimitMb: config.channelStorageLimitBytes === null ? 0 : Math.round(config.channelStorageLimitBytes / (1024 * 1024)),
        keepRecordings: true,
        maxLiveDurationS: Math.round(config.live.maxDurationMs / 1000),
      },
    });
    await settings.start();
    closers.push(() => settings.close());
    const mailer = createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, dataDir: config.dataDir, log: log.child({ mod: 'mail' }) });
    closers.push(() => mailer.close());

    const channels = new ChannelService({ db: db.to<ChannelTables>(), keys, log: log.child({ mod: 'channels' }) });
    const accounts = new AccountService({
      db: db.to<AccountDb>(),
      limiter: bus,
      jwtKey: keys.jwt,
      log: log.child({ mod: 'accounts' }),
      loginLimit: { attempts: config.loginRateLimit, windowS: config.loginRateWindowS },
      createChannel: (trx, user) => channels.create(narrow(trx).to<ChannelTables>(), user),
      registration: () => settings.current().registration,
      adminUsername: config.adminUsername,
      // Mail written to local files reaches nobody who signed up: only real mail can verify an address.
      verifyEmail: mailer.kind === 'smtp',
    });
    const passwords = new PasswordService({
      db: db.to<AccountTables>(),
      limiter: bus,
      mailer,
      jobs,
      log: log.child({ mod: 'passwords' }),
      revokeAllSessions: (userId) => accounts.revokeAllSessions(userId),
      instanceName: () => settings.current().name,
    });
    closers.push(() => passwords.close());
    // Account mail is sent by whichever server takes the job (a worker process, once there is one,
    // may too). The worker starts once the bus answers: a BullMQ worker made while Redis is down
    // cannot be closed (its close waits for a connection forever), which would hang shutdown.
    let mailWorker: NodeJS.Timeout | undefined;
    let stopping = false;
    const startMailWorker = async (delayMs: number): Promise<void> => {
      if (stopping) return;
      try {
        await bus.ping();
        jobs.work<AccountMailJob>(ACCOUNT_MAIL_QUEUE, (job) => passwords.deliver(job), { concurrency: 2 });
      } catch {
        mailWorker = setTimeout(() => void startMailWorker(Math.min(delayMs * 2, 30_000)), delayMs).unref();
      }
    };
    await startMailWorker(1000);
    closers.push(async () => {
      stopping = true;
      clearTimeout(mailWorker);
    });

    const live = new LiveManager({
      db: db.to<LiveTables>(),
      bus,
      log: log.child({ mod: 'live' }),
      mediaDir: config.mediaDir,
      ffmpegPath: config.live.ffmpegPath,
      partTarget: config.live.partSeconds,
      segmentTarget: config.live.segmentSeconds,
      windowSegments: config.live.windowSegments,
      graceMs: config.live.graceMs,
      maxDurationMs: () => settings.current().maxLiveDurationS * 1000,
      maxRestarts: 5,
      plan: (event) => planLadder(config.live, event),
    });
    await live.recoverInterrupted();
    closers.push(() => live.close());

    const quota = new StorageQuota(
      db.to<VodDb>(),
      () => (settings.current().recordingLimitMb === 0 ? null : settings.current().recordingLimitMb * 1024 * 1024),
      log.child({ mod: 'quota' }),
    );
    quota.watch(live);
    closers.push(async () => quota.close());

    const ingest = new RtmpIngest({
      host: config.host,
      port: config.rtmpPort,
      log: log.child({ mod: 'ingest' }),
      verifyStreamKey: async (key) => {
        const channel = await channels.verifyStreamKey(key);
        return channel ? { channelId: channel.id, slug: channel.slug } : null;
      },
      admit: async (channel) => {
        const owner = (await channels.byId(channel.channelId))?.ownerId;
        const refusal = owner ? await accounts.streamRefusal(owner) : 'suspended';
        if (refusal) return refusal;
        return (await quota.exceeded(channel.channelId)) ? 'storage-quota' : null;
      },
    });
    ingest.on('publish', (event) => void live.onPublish(event).catch((err) => log.error({ err }, 'starting a live session failed')));
    ingest.on('unpublish', (event) => void live.onUnpublish(event.channelId, event.reason === 'unpublished' ? 'unpublished' : 'publisher-lost'));
    live.connectIngest(ingest);
    channels.onStreamKeyRotated((channel) => void live.endChannel(channel.id, 'key-rotated'));
    await ingest.start();
    closers.push(() => ingest.close());

    // Suspensions: ending the stream goes through the live manager's end path (cross-node once that
    // path is); hiding content reaches chat now and comments once the social room is merged.
    let chatHandle: ChatHandle | null = null;
    const accountAdmin = new AccountAdmin({
      db: db.to<AccountDb>(),
      log: log.child({ mod: 'account-admin' }),
      revokeAllSessions: (userId) => accounts.revokeAllSessions(userId),
      endLive: (channelId, reason) => live.endChannel(channelId, reason),
      setContentHidden: async (userId, hidden) => {
        await chatHandle?.service.setUserHidden(userId, hidden);
      },
    });
    if (config.adminUsername && (await accountAdmin.promoteByName(config.adminUsername))) log.info({ username: config.adminUsername }, 'ADMIN_USERNAME made an admin');

    const viewers = new ViewerCounter();
    const app = await buildApp({
      log,
      accounts,
      passwords,
      channels,
      readiness: { database: () => database.ping(), bus: () => bus.ping() },
      rtmpPort: () => ingest.port,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      liveInfo: async (channel) => ({
        ...liveStatus({ liveSession: (id) => live.liveSession(id), viewers, publicUrl: config.publicUrl }, channel),
        suspended: await accounts.isSuspended(channel.ownerId),
      }),
    });
    // Each room registers its routes and returns what to close; they close in reverse, after the app.
    const liveRoom = await registerLive(app, { live, accounts, channels, viewers, mediaDir: config.mediaDir, ffmpegPath: config.live.ffmpegPath, publicUrl: config.publicUrl });
    closers.push(() => liveRoom.close());
    const chat = await registerChat(app, {
      db: db.to<ChatDb>(),
      bus,
      limiter: bus,
      accounts,
      channels,
      live: { liveSession: (channelId) => live.liveSession(channelId) },
      log,
      options: { maxSockets: { perAddress: config.chatMaxSocketsPerIp, perUser: config.chatMaxSocketsPerUser } },
    });
    closers.push(() => chat.close());
    chatHandle = chat;
    const recording = await registerVod(app, {
      db: db.to<VodDb>(),
      bus,
      storage,
      config,
      log,
      keys,
      accounts,
      archive: config.archiver === 'in-process',
    });
    closers.push(() => recording.close());
    const chatError = (err: unknown) => (err instanceof ChatError ? err.toAppError() : err);
    const admin = await registerAdmin(app, {
      db: db.to<AdminDb>(),
      limiter: bus,
      log,
      accounts,
      admin: accountAdmin,
      settings,
      targets: {
        find: {
          channel: async (id) => {
            const channel = await channels.byId(id);
            return channel ? { ownerId: channel.ownerId } : null;
          },
          video: async (id) => {
            const vod = await findRecording(db.to<VodDb>(), id);
            return vod ? { ownerId: vod.ownerId } : null;
          },
          'chat-message': async (id) => {
            const message = await chat.service.messageAuthor(id);
            return message ? { ownerId: message.userId } : null;
          },
          // Comments live in the social room, not merged yet: until it is, no comment exists to report.
          comment: async () => null,
        },
        remove: {
          video: async (id) => {
            const vod = await findRecording(db.to<VodDb>(), id);
            if (!vod) throw new AppError('NOT_FOUND', 'The video is already gone.');
            if (vod.status === 'recording' || vod.status === 'finalizing') throw new AppError('BAD_REQUEST', 'The video is still being recorded; end the stream first.');
            await deleteRecording(db.to<VodDb>(), storage, vod);
          },
          'chat-message': (id, actorId) => chat.service.removeMessage(id, actorId).catch((err: unknown) => Promise.reject(chatError(err))),
        },
      },
      // The outcome is kept on the report (GET /api/v1/reports/mine) and announced on the bus for
      // the notifications of the social room to pick up once it is merged.
      notify: (userId, outcome) => bus.publish('report.resolved', { userId, ...outcome }),
      liveNow: async () =>
        live.live().map((session) => {
          const s = session.snapshot();
          return { channelId: s.channelId, slug: s.slug, sessionId: s.id, startedAt: s.startedAt, viewers: viewers.count(s.id) };
        }),
      endLive: async (channelId) => {
        if (!live.liveSession(channelId)) return false;
        await live.endChannel(channelId, 'ended-by-admin');
        return true;
      },
      storageByChannel: (limit) => quota.usageByChannel(limit),
      linkBase: (request) => config.publicUrl || `${request.protocol}://${request.host}`,
    });
    closers.push(() => admin.close());
    await app.register(webRoutes, { publicUrl: config.publicUrl, cdnUrl: config.cdnUrl });
    closers.push(() => app.close());

    return {
      config,
      app,
      database,
      bus,
      storage,
      accounts,
      passwords,
      accountAdmin,
      settings,
      channels,
      live,
      ingest,
      chat,
      recording,
      admin,
      async listen() {
        await app.listen({ host: config.host, port: config.port });
        const address = app.server.address();
        const port = typeof address === 'object' && address ? address.port : config.port;
        return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit('spillway');
  const log = createLogger(config.logLevel, logDestination(process.stdout));
  const server = await createServer(config, log);
  const url = await server.listen();
  log.info(
    { url, rtmp: `rtmp://${config.host}:${server.ingest.port}/live`, database: server.database.kind, storage: config.s3 ? 's3' : 'local', bus: config.redisUrl ? 'redis' : 'memory' },
    'spillway is up',
  );
  stopOnSignals(log, () => server.close(), { forceMs: 15_000 });
}

runIfEntry(import.meta.url, 'spillway', main);
