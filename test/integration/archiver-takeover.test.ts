// A node stopped on purpose (SIGTERM) whose VOD could not be finished before it exited (storage
// down, say) is expected back to finish it. If it never comes back (it was scaled down), another
// node must finalise the VOD from what reached storage once STOPPED_NODE_FINALIZE_MS have passed,
// marked interrupted, instead of leaving it unfinished for good. A VOD of a node stopped more
// recently still waits for that node. Two archivers (nodes A and B) on one PostgreSQL database and
// one storage; A's session ended 11 minutes ago is written as its shutdown would have left it.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { narrow } from '../../src/db/narrow.ts';
import { createLogger } from '../../src/log.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { Archiver } from '../../vod/archiver.ts';
import { STOPPED_NODE_FINALIZE_MS, VodStore } from '../../vod/vod-store.ts';
import type { VodDb } from '../../vod/vod-tables.ts';
import { until } from '../helpers/media.ts';
import { liveRendition, sessionOnDisk } from '../helpers/recording-session.ts';
import { tempDir } from '../helpers/services.ts';

const log = createLogger('silent');

t.test("a stopped node's unfinished VOD is finalised by another node once that node has stayed away long enough", async (t) => {
  const { db, sessionId, mediaDir, renditionDir } = await sessionOnDisk(t, 'erin', { owner_node: 'node-a' });
  const storage = new LocalStorage({ root: await tempDir(t, 'takeover-storage') });
  const store = new VodStore(narrow(db).to<VodDb>());

  // Node A records the stream's two segments, then stops before it finalised the VOD.
  const { init, segments } = await liveRendition(await tempDir(t, 'takeover-media'));
  await writeFile(path.join(renditionDir, 'init-0.mp4'), init);
  for (const [msn, parts] of segments.entries()) await writeFile(path.join(renditionDir, `seg-${msn}.m4s`), Buffer.concat(parts));
  const a = new Archiver({ mediaDir, store, nodeId: 'node-a', nodeLostFinalizeMs: 60_000, storage, log, ffmpegPath: 'ffmpeg', windowSegments: 6 });
  await a.start();
  const vod = (await store.ensureVod(sessionId))!.vod;
  await until(async () => (await store.journaled(vod.id, 'source')).filter((r) => r.state === 'uploaded').length === 3, 'node A to store both segments');
  await a.close();
  const stoppedAgo = STOPPED_NODE_FINALIZE_MS + 60_000;
  await db.updateTable('live_sessions').set({ ended_at: new Date(Date.now() - stoppedAgo), end_reason: 'server-shutdown' }).where('id', '=', sessionId).execute();

  // A second session of the channel, ended by a shutdown of node A a minute ago: A may still come back for it.
  const recent = await db
    .insertInto('live_sessions')
    .values({ channel_id: vod.channel_id!, started_at: new Date(Date.now() - 120_000), ended_at: new Date(Date.now() - 60_000), end_reason: 'server-shutdown', owner_node: 'node-a', renditions: JSON.stringify([{ name: 'source', width: 320, height: 180, bandwidth: 500_000, codecs: 'avc1.64000d,mp4a.40.2' }]) })
    .returning('id')
    .executeTakeFirstOrThrow();
  const recentVod = (await store.ensureVod(recent.id))!.vod;

  // Node B: another MEDIA_DIR (A's disk is gone with it), the same database and storage.
  const b = new Archiver({ mediaDir: await tempDir(t, 'takeover-node-b'), store, nodeId: 'node-b', nodeLostFinalizeMs: 60_000, storage, log, ffmpegPath: 'ffmpeg', windowSegments: 6, pollMs: 50 });
  t.teardown(() => b.close());
  await b.start();
  const finished = await until(async () => {
    const row = await db.selectFrom('vods').selectAll().where('id', '=', vod.id).executeTakeFirstOrThrow();
    return row.status === 'ready' || row.status === 'failed' ? row : null;
  }, "node B to finalise node A's VOD", 60_000);
  t.equal(finished.status, 'ready', 'the VOD is ready');
  t.equal(finished.interrupted, true, 'and says it was interrupted');
  t.equal(finished.finalizer_node, 'node-b', 'node B finalised it');
  t.ok(Math.abs(Number(finished.duration_s) - 2) < 0.1, `with both segments stored by node A (${finished.duration_s} s)`);
  t.ok(await storage.head(`${vod.storage_prefix}/source/index.m3u8`), 'its playlist is stored');

  // B's polls found the old VOD; in the same polls the recent one was not theirs to take.
  const waiting = await db.selectFrom('vods').select(['status', 'finalizer_node']).where('id', '=', recentVod.id).executeTakeFirstOrThrow();
  t.same(waiting, { status: 'recording', finalizer_node: null }, 'the VOD of the node stopped a minute ago still waits for it');
});
