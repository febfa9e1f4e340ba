// A recording's starting point for archiver tests: a migrated PostgreSQL test database with one
// channel and one live session of it, the session's rendition directory under a fresh MEDIA_DIR,
// and media for it as the live packager writes it.
import { mkdir, readFile } from 'node:fs/promises';
import type { Insertable } from 'kysely';
import path from 'node:path';
import { openPostgres } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/log.ts';
import type { AppTables } from '../../src/main.ts';
import type { LiveSessionsTable } from '../../packager/live-tables.ts';
import { readBoxes } from '../../packager/fmp4-reader.ts';
import { encodeFragmentedMp4 } from './encoded-media.ts';
import { createTestDatabase, tempDir } from './services.ts';

const log = createLogger('silent');

/** A migrated test database with one channel and one live session of it (`fields` added), and the session's rendition directory. */
export async function sessionOnDisk(t: { teardown(fn: () => unknown): void }, slug: string, fields: Partial<Insertable<LiveSessionsTable>>) {
  const database = await openPostgres<AppTables>(await createTestDatabase(t), log);
  t.teardown(() => database.close());
  await migrate(database, log);
  const db = database.db;
  const user = await db.insertInto('users').values({ username: slug, email: `${slug}@example.test`, password_hash: 'x' }).returning('id').executeTakeFirstOrThrow();
  const channel = await db.insertInto('channels').values({ owner_id: user.id, slug, title: `${slug} live`, stream_key_hash: 'h', stream_key_ciphertext: 'c' }).returning('id').executeTakeFirstOrThrow();
  const session = await db
    .insertInto('live_sessions')
    .values({ channel_id: channel.id, started_at: new Date(), renditions: JSON.stringify([{ name: 'source', width: 640, height: 360, bandwidth: 1_000_000, codecs: 'avc1.64001e,mp4a.40.2' }]), ...fields })
    .returning('id')
    .executeTakeFirstOrThrow();
  const mediaDir = await tempDir(t, 'archiver-media');
  const renditionDir = path.join(mediaDir, 'live', session.id, 'source');
  await mkdir(renditionDir, { recursive: true });
  return { db, sessionId: session.id, mediaDir, renditionDir };
}

/**
 * An init section and two 1 s segments of H.264 and AAC, each as the packager's parts: five 200 ms
 * fragments, one buffer each (a segment file is its parts end to end).
 */
export async function liveRendition(dir: string): Promise<{ init: Buffer; segments: Buffer[][] }> {
  const data = await readFile(await encodeFragmentedMp4(dir, { codec: 'h264', width: 320, height: 180, seconds: 2, gop: 0.2 }));
  const boxes = readBoxes(data);
  const first = boxes.find((b) => b.type === 'moof')!;
  const fragments = boxes.flatMap((box, i) => (box.type === 'moof' ? [data.subarray(box.start, boxes[i + 1]!.start + boxes[i + 1]!.size)] : []));
  return { init: data.subarray(0, first.start), segments: [fragments.slice(0, 5), fragments.slice(5, 10)] };
}
