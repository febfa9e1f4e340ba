// The only file that knows the whole graph: it builds every component from the configuration,
// hands each its dependencies, and closes them in reverse order on shutdown.
import { mkdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { AccountService } from './accounts/account-service.ts';
import { createBus } from './bus/create-bus.ts';
import type { Bus } from './bus/bus.ts';
import { ChannelService } from './channels/channel-service.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { buildApp } from './http/app.ts';
import { createLogger, type Logger } from './log.ts';
import { deriveKeys, loadServerSecret } from './secrets.ts';
import { createStorage } from './storage/create-storage.ts';
import type { Storage } from './storage/storage.ts';

export interface Server {
  app: FastifyInstance;
  database: Database;
  bus: Bus;
  storage: Storage;
  accounts: AccountService;
  channels: ChannelService;
  /** Listens on config.host:config.port; returns the HTTP base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createServer(config: Config, log: Logger): Promise<Server> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err) => log.error({ err }, 'error while closing'));
  };
  try {
    await mkdir(config.dataDir, { recursive: true });
    const keys = deriveKeys(await loadServerSecret(config.secretKey, config.dataDir));

    const database = await openDatabase(config, log.child({ mod: 'db' }));
    closers.push(() => database.close());
    await migrate(database, log.child({ mod: 'migrate' }));

    const bus = createBus(config, log.child({ mod: 'bus' }));
    closers.push(() => bus.close());
    const storage = createStorage(config);
    closers.push(() => storage.close());

    const channels = new ChannelService({ db: database.db, keys, log: log.child({ mod: 'channels' }) });
    const accounts = new AccountService({
      db: database.db,
      bus,
      jwtKey: keys.jwt,
      log: log.child({ mod: 'accounts' }),
      loginLimit: { attempts: config.loginRateLimit, windowS: config.loginRateWindowS },
      createChannel: (trx, user) => channels.create(trx, user),
    });

    const app = await buildApp({
      log,
      accounts,
      channels,
      readiness: { database: () => database.ping(), bus: () => bus.ping() },
      rtmpPort: config.rtmpPort,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
    });
    closers.push(() => app.close());

    return {
      app,
      database,
      bus,
      storage,
      accounts,
      channels,
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
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spillway: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const server = await createServer(config, log);
  const url = await server.listen();
  log.info(
    { url, rtmp: `rtmp://${config.host}:${config.rtmpPort}/live`, database: server.database.kind, storage: config.s3 ? 's3' : 'local', bus: config.redisUrl ? 'redis' : 'memory' },
    'spillway is up',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`spillway: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
