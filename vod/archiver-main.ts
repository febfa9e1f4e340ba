// `npm run archiver`: the archiver as its own process, against the server's MEDIA_DIR and database
// (same environment variables). Run the server with it only if the server does not archive itself.
import type { MigrationTables } from '../src/db/migrate.ts';
import { narrow } from '../src/db/narrow.ts';
import { loadNodeId } from '../src/node-identity.ts';
import { createLogger, logDestination } from '../src/log.ts';
import { closeInReverse, loadConfigOrExit, openServices, runIfEntry, stopOnSignals } from '../src/process-entry.ts';
import { Archiver, SHUTDOWN_FINALIZE_MS } from './archiver.ts';
import { VodStore } from './vod-store.ts';
import type { VodDb } from './vod-tables.ts';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spillway archiver');
  const log = createLogger(config.logLevel, logDestination(process.stdout)).child({ mod: 'archiver' });
  const closers: Array<() => Promise<void>> = [];
  const { database, bus, storage } = await openServices<MigrationTables & VodDb>(config, log, closers);
  const archiver = new Archiver({
    mediaDir: config.mediaDir,
    store: new VodStore(narrow(database.db).to<VodDb>()),
    // The same DATA_DIR as the server beside it, so the same node id: it finalises that node's sessions.
    nodeId: await loadNodeId(config.nodeId, config.dataDir),
    nodeLostFinalizeMs: config.nodeLostFinalizeMs,
    storage,
    bus,
    log,
    ffmpegPath: config.live.ffmpegPath,
    windowSegments: config.live.windowSegments,
    tileBatch: config.live.tileBatch,
  });
  await archiver.start();
  closers.push(async () => {
    // Sessions that ended and are not finalised yet (a server beside it that stops ends its own)
    // become VODs before it goes.
    await archiver.finishEnded(SHUTDOWN_FINALIZE_MS);
    await archiver.close();
  });
  log.info({ mediaDir: config.mediaDir, storage: config.s3 ? 's3' : 'local' }, 'archiver is up');
  // Uploads in flight are journaled; whatever does not finish resumes at the next start.
  stopOnSignals(log, () => closeInReverse(closers, log), { what: 'archiver' });
}

runIfEntry(import.meta.url, 'spillway archiver', main);
