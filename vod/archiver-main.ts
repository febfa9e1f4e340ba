// `npm run archiver`: the archiver as its own process, against the server's MEDIA_DIR and database
// (same environment variables). Run the server with it only if the server does not archive itself.
import { pathToFileURL } from 'node:url';
import { createBus } from '../src/bus/create-bus.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrate, type MigrationTables } from '../src/db/migrate.ts';
import { narrow } from '../src/db/narrow.ts';
import { createLogger, logDestination } from '../src/log.ts';
import { createStorage } from '../src/storage/create-storage.ts';
import { Archiver } from './archiver.ts';
import { VodStore } from './vod-store.ts';
import type { VodDb } from './vod-tables.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spillway archiver: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, logDestination(process.stdout)).child({ mod: 'archiver' });
  const database = await openDatabase<MigrationTables & VodDb>(config, log.child({ mod: 'db' }));
  await migrate(database, log.child({ mod: 'migrate' }));
  const bus = createBus(config, log.child({ mod: 'bus' }));
  const storage = createStorage(config);
  const archiver = new Archiver({
    mediaDir: config.mediaDir,
    store: new VodStore(narrow(database.db).to<VodDb>()),
    storage,
    bus,
    log,
    ffmpegPath: config.live.ffmpegPath,
    windowSegments: config.live.windowSegments,
  });
  await archiver.start();
  log.info({ mediaDir: config.mediaDir, storage: config.s3 ? 's3' : 'local' }, 'archiver is up');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'archiver shutting down');
    // Uploads in flight are journaled; whatever does not finish resumes at the next start.
    const closeAll = async () => {
      await archiver.close();
      await storage.close();
      await bus.close();
      await database.close();
    };
    closeAll().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'archiver shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`spillway archiver: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
