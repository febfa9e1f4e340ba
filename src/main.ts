// The only file that knows the whole graph: it builds every component from the configuration,
// hands each its dependencies, and closes them in reverse order on shutdown.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ChatDb, ChatTables } from '../chat/chat-tables.ts';
import { registerChat, type ChatHandle } from '../chat/register-chat.ts';
import { RtmpIngest } from '../ingest/rtmp-ingest.ts';
import { planLadder } from '../packager/ladder-plan.ts';
import { LiveManager } from '../packager/live-manager.ts';
import type { LiveTables } from '../packager/live-tables.ts';
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
import { LiveDirectory } from '../packager/live-directory.ts';
import { OwnerProxy } from '../packager/owner-proxy.ts';
import { LiveMetrics } from '../packager/live-metrics.ts';
import { createLogger, logDestination, type Logger } from './log.ts';
import { closeInReverse, loadConfigOrExit, openServices, runIfEntry, stopOnSignals } from './process-entry.ts';
import { deriveKeys, loadServerSecret } from './secrets.ts';
import { loadNodeId, nodeUrlFor } from './node-identity.ts';
import { SessionLeases } from '../packager/session-leases.ts';
import type { Storage } from './storage/storage.ts';

/** The whole schema: every room's tables. Each room is handed a view of just the ones it declares. */
export type AppTables = MigrationTables & AccountTables & ChannelTables & JobTables & LiveTables & VodTables & ChatTables;

// How long requests in flight may finish when the server shuts down (a blocking reload holds ≤ 6 s).
const SHUTDOWN_DRAIN_MS = 8000;

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
    const { database, bus, storage } = await openServices<AppTables>(config, log, closers);

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

    const nodeId = await loadNodeId(config.nodeId, config.dataDir);
    // Known for sure once the HTTP listener is bound (PORT=0 picks a port); listen() sets it.
    let nodeUrl = nodeUrlFor(config.nodeUrl, config.host, config.port);
    const leases = new SessionLeases({ db: db.to<LiveTables>(), nodeId, nodeUrl: () => nodeUrl, leaseMs: config.leaseMs });
    // The metrics live on the app's registry, which exists only once the app is built below.
    let partsProduced = () => {};
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
      maxDurationMs: config.live.maxDurationMs,
      maxRestarts: 5,
      plan: (event) => planLadder(config.live, event),
    });
    await live.start();
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
      admit: async (channel) => {
        // A channel live on another node is refused here, before any ffmpeg starts; one whose node
        // stopped renewing its lease is ended (node-lost) so this publish can take over.
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

    const viewers = new ViewerCounter(bus);
    const directory = new LiveDirectory(db.to<LiveTables & ChannelTables>());
    const app = await buildApp({
      log,
      accounts,
      channels,
      readiness: { database: () => database.ping(), bus: () => bus.ping() },
      rtmpPort: () => ingest.port,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      liveInfo: (channel) => liveStatus({ liveSession: (id) => live.liveSession(id), directory, viewers, publicUrl: config.publicUrl }, channel),
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
    });
    closers.push(() => recording.close());
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
