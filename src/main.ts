// The only file that knows the whole graph: it builds every component from the configuration,
// hands each its dependencies, and closes them in reverse order on shutdown.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { AdminDb, AdminTables } from '../admin/admin-tables.ts';
import { registerAdmin, type AdminHandle } from '../admin/register-admin.ts';
import { ChatError } from '../chat/chat-errors.ts';
import type { ChatDb, ChatTables } from '../chat/chat-tables.ts';
import { MAX_FRAME_BYTES } from '../chat/chat-protocol.ts';
import { registerChat, type ChatHandle } from '../chat/register-chat.ts';
import { RtmpIngest } from '../ingest/rtmp-ingest.ts';
import { planLadder } from '../packager/ladder-plan.ts';
import { LiveManager } from '../packager/live-manager.ts';
import type { LiveTables } from '../packager/live-tables.ts';
import { registerSocial, type SocialHandle, type SocialOptions } from '../social/register-social.ts';
import type { SocialDb, SocialTables } from '../social/social-tables.ts';
import { SHUTDOWN_FINALIZE_MS } from '../vod/archiver.ts';
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
import type { JobTables } from './jobs/job-tables.ts';
import type { MigrationTables } from './db/migrate.ts';
import { narrow } from './db/narrow.ts';
import { buildApp } from './http/app.ts';
import { liveStatus } from '../packager/live-routes.ts';
import { registerLive } from '../packager/register-live.ts';
import { ViewerCounter } from '../packager/viewer-counter.ts';
import { LiveDirectory } from '../packager/live-directory.ts';
import { OwnerProxy } from '../packager/owner-proxy.ts';
import { LiveMetrics } from '../packager/live-metrics.ts';
import { createLogger, logDestination, type Logger } from './log.ts';
import { closeInReverse, loadConfigOrExit, openServices, runIfEntry, stopOnSignals } from './process-entry.ts';
import { deriveKeys, loadServerSecret } from './secrets.ts';
import { loadNodeId, nodeUrlFor } from './node-identity.ts';
import { SessionLeases } from '../packager/session-leases.ts';
import { FreshSegments } from '../packager/fresh-segments.ts';
import type { Storage } from './storage/storage.ts';
import type { Jobs } from './jobs/jobs.ts';

/** The whole schema: every room's tables. Each room is handed a view of just the ones it declares. */
export type AppTables = MigrationTables & AccountTables & ChannelTables & JobTables & LiveTables & VodTables & ChatTables & InstanceTables & AdminTables & SocialTables;

// How long requests in flight may finish when the server shuts down (a blocking reload holds ≤ 6 s).
const SHUTDOWN_DRAIN_MS = 8000;

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
  social: SocialHandle;
  /** The job queues (transcoding, notifications, webhooks, mail): BullMQ with REDIS_URL, else the database queue. */
  jobs: Jobs;
  /** Listens on config.host:config.port; returns the HTTP base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** What tests and benches may tune beyond the configuration (retry delays, write limits). */
export interface ServerTuning {
  social?: Partial<SocialOptions>;
}

export async function createServer(config: Config, log: Logger, tuning: ServerTuning = {}): Promise<Server> {
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

    const nodeId = await loadNodeId(config.nodeId, config.dataDir);
    // Known for sure once the HTTP listener is bound (PORT=0 picks a port); listen() sets it.
    let nodeUrl = nodeUrlFor(config.nodeUrl, config.host, config.port);
    const leases = new SessionLeases({ db: db.to<LiveTables>(), nodeId, nodeUrl: () => nodeUrl, leaseMs: config.leaseMs });
    // The metrics live on the app's registry, which exists only once the app is built below.
    let partsProduced = () => {};
    // A recorder in this process takes each segment's media from the packager instead of reading the file back.
    const fresh = config.archiver === 'in-process' ? new FreshSegments() : undefined;
    const live = new LiveManager({
      onPart: () => partsProduced(),
      leases,
      leaseMs: config.leaseMs,
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
      fresh,
    });
    await live.start();
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
        // A channel live on another node is refused here, before any ffmpeg starts; one whose node
        // stopped renewing its lease is ended (node-lost) so this publish can take over.
        const owner = (await channels.byId(channel.channelId))?.ownerId;
        const refusal = owner ? await accounts.streamRefusal(owner) : 'suspended';
        if (refusal) return refusal;
        await leases.claimExpired(channel.channelId);
        if (await leases.liveElsewhere(channel.channelId)) return 'already-live';
        return (await quota.exceeded(channel.channelId)) ? 'storage-quota' : null;
      },
    });
    ingest.on('publish', (event) => void live.onPublish(event).catch((err) => log.error({ err }, 'starting a live session failed')));
    ingest.on('unpublish', (event) => void live.onUnpublish(event.channelId, event.reason === 'unpublished' ? 'unpublished' : 'publisher-lost'));
    live.connectIngest(ingest);
    channels.onStreamKeyRotated((channel) => void live.revoke(channel.id, 'key-rotated'));
    // The rows went with the account; the streams on whichever nodes hold them end too.
    accounts.onAccountDeleted((_userId, channelIds) => channelIds.forEach((id) => void live.revoke(id, 'unpublished')));
    await ingest.start();
    closers.push(() => ingest.close());

    // Suspensions end the stream on whichever node owns it (live.revoke goes over the bus) and hide
    // (or, lifted, show again) the user's chat messages and comments; both rooms are registered
    // below, before the server listens.
    let chatHandle: ChatHandle | null = null;
    let socialHandle: SocialHandle | null = null;
    const accountAdmin = new AccountAdmin({
      db: db.to<AccountDb>(),
      log: log.child({ mod: 'account-admin' }),
      revokeAllSessions: (userId) => accounts.revokeAllSessions(userId),
      endLive: (channelId, reason) => live.revoke(channelId, reason),
      setContentHidden: async (userId, hidden) => {
        // Each room's content is hidden (or shown) even when the other's fails; the first failure is reported.
        const results = await Promise.allSettled([chatHandle?.service.setUserHidden(userId, hidden), socialHandle?.comments.setHiddenForUser(userId, hidden)]);
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    });
    if (config.adminUsername && (await accountAdmin.promoteByName(config.adminUsername))) log.info({ username: config.adminUsername }, 'ADMIN_USERNAME made an admin');

    const viewers = new ViewerCounter(bus);
    const directory = new LiveDirectory(db.to<LiveTables & ChannelTables>());
    // Assigned once the social room is registered, before the server listens.
    let social: SocialHandle | null = null;
    const app = await buildApp({
      log,
      accounts,
      passwords,
      channels,
      readiness: { database: () => database.ping(), bus: () => bus.ping() },
      rtmpPort: () => ingest.port,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      socketMaxPayload: MAX_FRAME_BYTES,
      liveInfo: async (channel) => ({
        ...(await liveStatus({ liveSession: (id) => live.liveSession(id), directory, viewers, publicUrl: config.publicUrl }, channel)),
        suspended: await accounts.isSuspended(channel.ownerId),
      }),
      viewerInfo: async (channel, viewerId) => (social ? social.channelInfo(channel, viewerId) : {}),
    });
    const liveMetrics = new LiveMetrics(app.metricsRegistry, {
      owned: () => live.live().map((s) => s.snapshot()),
      publishers: () => ingest.publisherCount,
      viewers: (id) => viewers.count(id),
    });
    partsProduced = () => liveMetrics.onPart();
    const proxy = new OwnerProxy(nodeId, liveMetrics);
    // Each room registers its routes and returns what to close; they close in reverse, after the app.
    const liveRoom = await registerLive(app, {
      live,
      accounts,
      channels,
      viewers,
      directory,
      proxy,
      metrics: liveMetrics,
      mediaDir: config.mediaDir,
      ffmpegPath: config.live.ffmpegPath,
      publicUrl: config.publicUrl,
      // Three target durations (passthrough segments are at least 2 s).
      blockingCacheS: 3 * Math.max(2, config.live.segmentSeconds),
    });
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
    const socialRoom = await registerSocial(app, {
      db: db.to<SocialDb>(),
      bus,
      limiter: bus,
      jobs,
      accounts,
      channels,
      log,
      keys,
      allowPrivateWebhooks: config.webhookAllowPrivate,
      live: { sessions: () => live.live().map((s) => ({ id: s.id, viewers: viewers.count(s.id) })) },
      options: tuning.social,
    });
    social = socialRoom;
    socialHandle = socialRoom;
    closers.push(() => socialRoom.close());
    // Notification fan-out and webhook deliveries run as jobs, off the ingest path and requests.
    for (const [queue, { handler, concurrency }] of Object.entries(socialRoom.jobHandlers)) jobs.work(queue, handler, { concurrency });
    const recording = await registerVod(app, {
      db: db.to<VodDb>(),
      bus,
      storage,
      config,
      log,
      keys,
      nodeId,
      accounts,
      archive: config.archiver === 'in-process',
      fresh,
      uploads: { jobs, limiter: bus, quota, work: config.worker === 'in-process' },
      extras: (ids, viewerId) => socialRoom.vodInfo(ids, viewerId),
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
          comment: async (id) => {
            const authorId = await socialRoom.comments.author(id);
            return authorId ? { ownerId: authorId } : null;
          },
        },
        remove: {
          video: async (id) => {
            const vod = await findRecording(db.to<VodDb>(), id);
            if (!vod) throw new AppError('NOT_FOUND', 'The video is already gone.');
            if (vod.status === 'recording' || vod.status === 'finalizing') throw new AppError('BAD_REQUEST', 'The video is still being recorded; end the stream first.');
            await deleteRecording(db.to<VodDb>(), storage, vod, () => recording.uploads?.discard(vod));
          },
          'chat-message': (id, actorId) => chat.service.removeMessage(id, actorId).catch((err: unknown) => Promise.reject(chatError(err))),
          // As a channel owner or moderator deletes one: soft-deleted, deleted_by the admin.
          comment: async (id, actorId) => {
            if (!(await socialRoom.comments.remove(id, actorId))) throw new AppError('NOT_FOUND', 'The comment is already gone.');
          },
        },
      },
      // The outcome is kept on the report (GET /api/v1/reports/mine) and told to the reporter in
      // their notifications (stored, and pushed to their open pages).
      notify: (userId, outcome) => socialRoom.notifyReportOutcome(userId, outcome.reportId, { status: outcome.status, targetKind: outcome.targetKind, note: outcome.note }),
      // Every node's streams (starting ones too), from the directory; ending one reaches its owner over the bus.
      liveNow: async () =>
        Promise.all(
          (await directory.all()).map(async (e) => ({
            channelId: e.channelId,
            slug: e.slug,
            sessionId: e.sessionId,
            startedAt: e.startedAt,
            viewers: await viewers.countAnywhere(e.sessionId, live.liveSession(e.channelId)?.id === e.sessionId),
          })),
        ),
      endLive: async (channelId) => {
        if (!(await directory.byChannel(channelId))) return false;
        await live.revoke(channelId, 'ended-by-admin');
        return true;
      },
      storageByChannel: (limit) => quota.usageByChannel(limit),
      linkBase: (request) => config.publicUrl || `${request.protocol}://${request.host}`,
    });
    closers.push(() => admin.close());
    // Running jobs stop (and go back to the queue) before what they use closes; close is idempotent.
    closers.push(() => jobs.close());
    // Closers run in reverse. On shutdown the last three run first, in this order: the live sessions
    // end, the HTTP server drains and closes, and the archiver turns the ended sessions into VODs now
    // (vod.ready and its notifications included) rather than at the next start, while the bus, jobs
    // and rooms are still open.
    closers.push(async () => {
      await recording.archiver?.finishEnded(SHUTDOWN_FINALIZE_MS);
    });
    await app.register(webRoutes, { publicUrl: config.publicUrl, cdnUrl: config.cdnUrl });
    closers.push(async () => {
      // server.close() reaps the keep-alive connections idle at that moment; one still answering
      // (an edge's held playlist request) goes idle afterwards and would hold the close for the
      // whole keep-alive timeout (72 s). Reap those as they go idle, and after a drain of a few
      // seconds (longer than a blocking reload is held) drop whatever is left.
      const reaper = setInterval(() => app.server.closeIdleConnections(), 200);
      const deadline = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_DRAIN_MS);
      try {
        await app.close();
      } finally {
        clearInterval(reaper);
        clearTimeout(deadline);
      }
    });
    // The publishers are dropped and the live sessions end (rows ended, stream.ended announced)
    // while the HTTP server still answers: the playlist requests players hold for a blocking reload
    // are answered with EXT-X-ENDLIST, so they stop as at any stream's end instead of losing their
    // connection, and the archiver's finalisation starts during the drain. ingest.close() and
    // live.close() run again from their own closers above as no-ops; those stay for a start that
    // fails earlier.
    closers.push(async () => {
      await ingest.close();
      await live.close();
    });

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
      social: socialRoom,
      jobs,
      async listen() {
        await app.listen({ host: config.host, port: config.port });
        const address = app.server.address();
        const port = typeof address === 'object' && address ? address.port : config.port;
        nodeUrl = nodeUrlFor(config.nodeUrl, config.host, port);
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
