// Recording a live segment that the packager in the same process handed over (FreshSegments), on
// the suite's S3-compatible server (put with the handed-over bytes) and on local storage (a hard
// link to the live file). The VOD must hold exactly what is on disk, with the exact duration, both
// when the hand-over is taken and when it does not match the file (its size differs: read from disk).
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { narrow } from '../../src/db/narrow.ts';
import { createLogger } from '../../src/log.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { FreshSegments } from '../../packager/fresh-segments.ts';
import { Archiver } from '../../vod/archiver.ts';
import { segmentDuration } from '../../vod/fmp4-file-info.ts';
import { VodStore } from '../../vod/vod-store.ts';
import type { VodDb } from '../../vod/vod-tables.ts';
import { liveRendition, sessionOnDisk } from '../helpers/recording-session.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { tempDir } from '../helpers/services.ts';

const log = createLogger('silent');

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// The type tap gives a subtest's callback (tap exports no name for it).
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

function recordsWhatIsOnDisk(name: string, makeStorage: (t: Test) => Promise<Storage>): void {
  t.test(`${name}: a handed-over segment and one whose hand-over does not match are recorded as they are on disk`, async (t) => {
    const { db, sessionId, mediaDir, renditionDir } = await sessionOnDisk(t, name.toLowerCase(), {});
    const { init, segments } = await liveRendition(await tempDir(t, 'handoff-media'));
    const storage = await makeStorage(t);
    const fresh = new FreshSegments();
    const files = segments.map((_, msn) => path.join(renditionDir, `seg-${msn}.m4s`));
    await writeFile(path.join(renditionDir, 'init-0.mp4'), init);
    // Written as the packager writes (the file, then the hand-over); the second hand-over lacks its last part.
    await writeFile(files[0]!, Buffer.concat(segments[0]!));
    fresh.add(files[0]!, segments[0]!);
    await writeFile(files[1]!, Buffer.concat(segments[1]!));
    fresh.add(files[1]!, segments[1]!.slice(0, -1));

    const store = new VodStore(narrow(db).to<VodDb>());
    const archiver = new Archiver({ mediaDir, store, nodeId: 'node-a', nodeLostFinalizeMs: 60_000, storage, log, ffmpegPath: 'ffmpeg', windowSegments: 6, fresh });
    t.teardown(() => archiver.close());
    await archiver.start();
    const vod = (await store.ensureVod(sessionId))!.vod;
    // Waits for the state, not for a time: both segments and the init section uploaded.
    const deadline = Date.now() + 30_000;
    let rows = await store.journaled(vod.id, 'source');
    while (rows.filter((r) => r.state === 'uploaded').length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await store.journaled(vod.id, 'source');
    }
    t.same(rows.map((r) => [r.file, r.state]), [['init-0.mp4', 'uploaded'], ['seg-0.m4s', 'uploaded'], ['seg-1.m4s', 'uploaded']], 'the init section and both segments are stored');
    t.equal(fresh.held, 0, 'both hand-overs were taken (the mismatched one was dropped)');

    for (const [msn, file] of files.entries()) {
      const onDisk = await readFile(file);
      const row = rows.find((r) => r.msn === msn)!;
      t.equal(row.duration_s, segmentDuration(init, onDisk), `seg-${msn}: the journaled duration is the file's`);
      t.equal(row.size_bytes, (await stat(file)).size, `seg-${msn}: and its size`);
      const stored = await storage.get(`${vod.storage_prefix}/source/seg-${msn}.m4s`);
      t.ok((await readAll(stored.body)).equals(onDisk), `seg-${msn}: the stored object is the file's bytes`);
      t.equal(stored.contentType, 'video/iso.segment', `seg-${msn}: served as a segment`);
    }
  });
}

recordsWhatIsOnDisk('S3', async (t) => {
  const s3 = await startS3Server(t);
  const storage = new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  t.teardown(() => storage.close());
  return storage;
});

recordsWhatIsOnDisk('Local', async (t) => new LocalStorage({ root: await tempDir(t, 'handoff-storage') }));
