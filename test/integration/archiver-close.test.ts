// The archiver's close() while a session lookup is still in flight: the lookup's answer must not
// start a recorder or an inotify watch afterwards, or the process (a server shutting down, the
// standalone archiver on SIGTERM) never exits. Found as a CI run whose recording test passed and
// then hung until tap's timeout. The store is the real one on PostgreSQL; its ensureVod is held
// back by a gate so the lookup is certain to be in flight when close() is called.
//
// Also: a shutdown that stops a finalisation half-way (storage down) says so at warn level, not as
// an error, because the node finishes it when it starts again.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { narrow } from '../../src/db/narrow.ts';
import { createLogger } from '../../src/log.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import type { PutOptions } from '../../src/storage/storage.ts';
import { Archiver } from '../../vod/archiver.ts';
import { VodStore } from '../../vod/vod-store.ts';
import type { VodDb } from '../../vod/vod-tables.ts';
import { captureLog } from '../helpers/captured-log.ts';
import { sessionOnDisk } from '../helpers/recording-session.ts';
import { tempDir } from '../helpers/services.ts';

const log = createLogger('silent');
const watches = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;

class GatedStore extends VodStore {
  asked!: () => void;
  readonly lookup = new Promise<void>((resolve) => (this.asked = resolve));
  release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  override async ensureVod(sessionId: string) {
    this.asked();
    await this.gate;
    return super.ensureVod(sessionId);
  }
}

t.test('close() during a session lookup leaves no recorder or watch behind', async (t) => {
  const { db, mediaDir } = await sessionOnDisk(t, 'alice', {});

  const before = watches();
  const store = new GatedStore(narrow(db).to<VodDb>());
  const archiver = new Archiver({
    mediaDir, store, nodeId: 'node-a', nodeLostFinalizeMs: 60_000, storage: new LocalStorage({ root: await tempDir(t, 'archiver-storage') }), log, ffmpegPath: 'ffmpeg', windowSegments: 6,
  });
  const started = archiver.start();
  await store.lookup;
  await started;
  t.ok(watches() > before, 'the running archiver watches the live directory');

  const closed = archiver.close();
  store.release();
  await closed;
  // What the lookup's answer would start (a directory listing, then the recorder and its watch)
  // happens within a few turns of the event loop; 200 ms is a window to see that it does not.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(watches(), before, 'every watch is closed once close() has returned');
});

// A stand-in for object storage that is down: the suite's S3-compatible server cannot be made to
// refuse puts on demand without stopping it for every other test in the run.
class DownStorage extends LocalStorage {
  override async put(_key: string, _body: unknown, _options?: PutOptions): Promise<void> {
    throw new Error('storage is unavailable');
  }

  override async putLocalFile(_key: string, _file: string, _options?: PutOptions): Promise<void> {
    throw new Error('storage is unavailable');
  }
}

t.test('a shutdown that cuts a finalisation short warns that the node finishes it when it starts again, and logs no error', async (t) => {
  const { db, sessionId, mediaDir, renditionDir } = await sessionOnDisk(t, 'bob', { started_at: new Date(Date.now() - 60_000), ended_at: new Date(), end_reason: 'server-shutdown', owner_node: 'node-a' });
  // The recording's init section: journaled, then never stored, because every put fails.
  await writeFile(path.join(renditionDir, 'init-0.mp4'), Buffer.from('not stored'));

  const captured = captureLog('info');
  const archiver = new Archiver({
    mediaDir, store: new VodStore(narrow(db).to<VodDb>()), nodeId: 'node-a', nodeLostFinalizeMs: 60_000, storage: new DownStorage({ root: await tempDir(t, 'archiver-down') }), log: captured.log, ffmpegPath: 'ffmpeg', windowSegments: 6,
    backoff: { baseMs: 50, maxMs: 100 },
  });
  await archiver.start();
  await archiver.finishEnded(500);
  await archiver.close();

  const lines = captured.lines();
  const vod = await db.selectFrom('vods').select('status').where('live_session_id', '=', sessionId).executeTakeFirstOrThrow();
  t.not(vod.status, 'ready', 'the VOD is not finished while its storage is down');
  t.ok(lines.some((l) => l.level === 40 && /upload failed/.test(l.msg)), 'the failing uploads were warned about');
  t.same(lines.filter((l) => l.level >= 50).map((l) => l.msg), [], 'no error is logged for the finalisation the shutdown stopped');
  t.ok(lines.some((l) => l.level === 40 && /finishes it when it starts again/.test(l.msg)), 'a warning says the node finishes the VOD when it starts again');
});
