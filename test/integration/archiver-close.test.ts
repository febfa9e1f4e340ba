// The archiver's close() while a session lookup is still in flight: the lookup's answer must not
// start a recorder or an inotify watch afterwards, or the process (a server shutting down, the
// standalone archiver on SIGTERM) never exits. Found as a CI run whose recording test passed and
// then hung until tap's timeout. The store is the real one on PostgreSQL; its ensureVod is held
// back by a gate so the lookup is certain to be in flight when close() is called.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { openPostgres } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { narrow } from '../../src/db/narrow.ts';
import { createLogger } from '../../src/log.ts';
import type { AppTables } from '../../src/main.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { Archiver } from '../../vod/archiver.ts';
import { VodStore } from '../../vod/vod-store.ts';
import type { VodDb } from '../../vod/vod-tables.ts';
import { createTestDatabase, tempDir } from '../helpers/services.ts';

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
  const database = await openPostgres<AppTables>(await createTestDatabase(t), log);
  t.teardown(() => database.close());
  await migrate(database, log);
  const db = database.db;
  const user = await db.insertInto('users').values({ username: 'alice', email: 'a@example.test', password_hash: 'x' }).returning('id').executeTakeFirstOrThrow();
  const channel = await db.insertInto('channels').values({ owner_id: user.id, slug: 'alice', title: 'Alice live', stream_key_hash: 'h', stream_key_ciphertext: 'c' }).returning('id').executeTakeFirstOrThrow();
  const session = await db
    .insertInto('live_sessions')
    .values({ channel_id: channel.id, started_at: new Date(), renditions: JSON.stringify([{ name: 'source', width: 640, height: 360, bandwidth: 1_000_000, codecs: 'avc1.64001e,mp4a.40.2' }]) })
    .returning('id')
    .executeTakeFirstOrThrow();
  const mediaDir = await tempDir(t, 'archiver-close');
  await mkdir(path.join(mediaDir, 'live', session.id, 'source'), { recursive: true });

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
