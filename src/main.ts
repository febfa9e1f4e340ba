// The only file that knows the whole graph: it builds every component from the configuration,
// hands each its dependencies, and closes them in reverse order on shutdown.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ChatDb, ChatTables } from '../chat/chat-tables.ts';
import { MAX_FRAME_BYTES } from '../chat/chat-protocol.ts';
import { registerChat, type ChatHandle } from '../chat/register-chat.ts';
import { RtmpIngest } from '../ingest/rtmp-ingest.ts';
import { planLadder } from '../packager/ladder-plan.ts';
import { LiveManager } from '../packager/live-manager.ts';
import type { LiveTables } from '../packager/live-tables.ts';
import { registerSocial, type SocialHandle, type SocialOptions } from '../social/register-social.ts';
import type { SocialDb, SocialTables } from '../social/social-tables.ts';
import { registerVod, type VodHandle } from '../vod/register-vod.ts';
import { StorageQuota } from '../vod/storage-quota.ts';
import type { VodDb, VodTables } from '../vod/vod-tables.ts';
import { webRoutes } from '../web/web-routes.ts';
import { AccountService, type AccountDb } from './accounts/account-service.ts';
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
import type { Jobs } from './jobs/jobs.ts';
import type { Storage } from './storage/storage.ts';

/** The whole schema: every room's tables. Each room is handed a view of just the ones it declares. */
export type AppTables = MigrationTables & AccountTables & ChannelTables & JobTables & LiveTables & VodTables & ChatTables & SocialTables;

export interface Server {
  config: Config;
  app: FastifyInstance;
  database: Database<AppTables>;
  bus: BusBackend;
  storage: Storage;
  accounts: AccountService;
  channels: ChannelService;
  live: LiveManager;
  ingest: RtmpIngest;
  chat: ChatHandle;
  recording: VodHandle;
  social: SocialHandle;
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
    const channels = new ChannelService({ db: db.to<ChannelTables>(), keys, log: log.child({ mod: 'channels' }) });
    const accounts = new AccountService({
      db: db.to<AccountDb>(),
      limiter: bus,
      jwtKey: keys.jwt,
      log: log.child({ mod: 'accounts' }),
      loginLimit: { attempts: config.loginRateLimit, windowS: config.loginRateWindowS },
      createChannel: (trx, user) => channels.create(narrow(trx).to<ChannelTables>(), user),
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
      maxDurationMs: config.live.maxDurationMs,
      maxRestarts: 5,
      plan: (event) => planLadder(config.live, event),
    });
    await live.recoverInterrupted();
    closers.push(() => live.close());

    const quota = new StorageQuota(db.to<VodDb>(), config.channelStorageLimitBytes, log.child({ mod: 'quota' }));
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
      admit: async (channel) => ((await quota.exceeded(channel.channelId)) ? 'storage-quota' : null),
    });
    ingest.on('publish', (event) => void live.onPublish(event).catch((err) => log.error({ err }, 'starting a live session failed')));
    ingest.on('unpublish', (event) => void live.onUnpublish(event.channelId, event.reason === 'unpublished' ? 'unpublished' : 'publisher-lost'));
    live.connectIngest(ingest);
    channels.onStreamKeyRotated((channel) => void live.endChannel(channel.id, 'key-rotated'));
    await ingest.start();
    closers.push(() => ingest.close());

    const viewers = new ViewerCounter();
    // Assigned once the social room is registered, before the server listens.
    let social: SocialHandle | null = null;
    const app = await buildApp({
      log,
      accounts,
      channels,
      readiness: { database: () => database.ping(), bus: () => bus.ping() },
      rtmpPort: () => ingest.port,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      socketMaxPayload: MAX_FRAME_BYTES,
      liveInfo: async (channel) => liveStatus({ liveSession: (id) => live.liveSession(id), viewers, publicUrl: config.publicUrl }, channel),
      viewerInfo: async (channel, viewerId) => (social ? social.channelInfo(channel, viewerId) : {}),
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
      accounts,
      archive: config.archiver === 'in-process',
      extras: (ids, viewerId) => socialRoom.vodInfo(ids, viewerId),
    });
    closers.push(() => recording.close());
    await app.register(webRoutes, { publicUrl: config.publicUrl, cdnUrl: config.cdnUrl });
    closers.push(() => app.close());

    return {
      config,
      app,
      database,
      bus,
      storage,
      accounts,
      channels,
      live,
      ingest,
      chat,
      recording,
      social: socialRoom,
      jobs,
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
