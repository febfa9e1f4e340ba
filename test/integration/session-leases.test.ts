// Live-session leases on both databases: one open session per channel whatever node inserts it; a
// start ends only the node's own sessions; an expired lease is claimed once however many nodes race
// for it; a renewal tells the owner which of its sessions were ended elsewhere; the directory lists
// the same on every node; a VOD's finalisation is claimed once.
import { sql } from 'kysely';
import t from 'tap';
import { openPglite, openPostgres, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { narrow } from '../../src/db/narrow.ts';
import { createLogger } from '../../src/log.ts';
import type { AppTables } from '../../src/main.ts';
import type { LiveTables } from '../../packager/live-tables.ts';
import { LiveDirectory } from '../../packager/live-directory.ts';
import { SessionLeases } from '../../packager/session-leases.ts';
import type { ChannelTables } from '../../src/channels/channel-tables.ts';
import { VodStore } from '../../vod/vod-store.ts';
import type { VodDb } from '../../vod/vod-tables.ts';
import { createTestDatabase, tempDir } from '../helpers/services.ts';

const log = createLogger('silent');
const LEASE_MS = 3000;

const backends: Array<[string, (t: { teardown(fn: () => unknown): void }) => Promise<Database<AppTables>>]> = [
  ['postgres', async (t) => openPostgres<AppTables>(await createTestDatabase(t), log)],
  ['pglite', async (t) => openPglite<AppTables>(await tempDir(t, 'pglite'))],
];

for (const [name, open] of backends) {
  t.test(`leases on ${name}`, async (t) => {
    const database = await open(t);
    t.teardown(() => database.close());
    await migrate(database, log);
    const db = database.db;
    const node = (id: string) => new SessionLeases({ db: narrow(db).to<LiveTables>(), nodeId: id, nodeUrl: () => `http://${id}.internal:8080`, leaseMs: LEASE_MS });
    const [a, b, c] = [node('a'), node('b'), node('c')];
    const user = await db.insertInto('users').values({ username: 'alice', email: 'a@example.test', password_hash: 'x' }).returning('id').executeTakeFirstOrThrow();
    const channel = await db
      .insertInto('channels')
      .values({ owner_id: user.id, slug: 'alice', title: 'Alice live', stream_key_hash: 'h', stream_key_ciphertext: 'c' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const session = (id: string) => ({ id, channelId: channel.id, startedAt: new Date(), renditions: [] });
    const row = async (id: string) => db.selectFrom('live_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const s1 = '00000000-0000-4000-8000-000000000001';
    const s2 = '00000000-0000-4000-8000-000000000002';

    await a.insert(session(s1));
    await t.rejects(b.insert(session(s2)), 'a second open session for the channel is refused by the database');
    t.same(await b.liveElsewhere(channel.id), { id: s1, channelId: channel.id, ownerNode: 'a' }, 'B sees the channel live on A');
    t.equal(await a.liveElsewhere(channel.id), null, 'A does not count its own session as elsewhere');
    const directory = new LiveDirectory(narrow(db).to<LiveTables & ChannelTables>());
    t.same(await directory.live(), [], 'not listed before its master playlist is ready');
    await a.markReady(s1);
    t.same((await directory.live()).map((e) => [e.sessionId, e.slug, e.title, e.ownerNode]), [[s1, 'alice', 'Alice live', 'a']], 'listed, the same from any node');
    t.same(await directory.owner(s1), { ownerNode: 'a', ownerUrl: 'http://a.internal:8080' }, 'the owner and where to reach it');

    t.same(await b.endOwnInterrupted(), [], "B's start ends none of A's sessions");
    t.equal((await row(s1)).ended_at, null);
    t.same(await b.claimExpired(), [], 'a running lease is not claimed');
    t.same(await a.renew(), new Set([s1]), 'the renewal returns the sessions still held');

    // A stops renewing: the lease runs out (plus the claim grace), and three nodes race for it.
    await sql`update live_sessions set lease_expires_at = now() - interval '5 seconds' where id = ${s1}`.execute(db);
    t.same(await a.claimExpired(), [], 'the owner never claims its own session');
    const claims = await Promise.all([b.claimExpired(), c.claimExpired(), b.claimExpired(channel.id)]);
    t.equal(claims.flat().length, 1, 'claimed exactly once');
    t.same(claims.flat()[0], { id: s1, channelId: channel.id, ownerNode: 'a' });
    const ended = await row(s1);
    t.equal(ended.end_reason, 'node-lost');
    t.ok(ended.ended_at, 'ended');
    t.same(await a.renew(), new Set(), "A's next renewal shows the session is gone: A stops it");
    t.equal(await a.end(s1, 'unpublished', 0), false, "A's own end does not overwrite node-lost");
    t.equal((await row(s1)).end_reason, 'node-lost');
    t.equal(await directory.byChannel(channel.id), null, 'the channel is no longer live');

    await b.insert(session(s2));
    t.same(await b.endOwnInterrupted(), [s2], "B's restart ends its own interrupted session");
    t.equal((await row(s2)).end_reason, 'server-restart');

    const vods = new VodStore(narrow(db).to<VodDb>());
    const vod = (await vods.ensureVod(s1))!.vod;
    t.same(await vods.endedUnfinished('b', 60_000), [], "another node's lost session waits NODE_LOST_FINALIZE_S for its node");
    t.same((await vods.endedUnfinished('a', 60_000)).map((v) => [v.vodId, v.interrupted]), [[vod.id, false]], 'the owner finalises it at once, whole');
    t.same((await vods.endedUnfinished('b', 0)).map((v) => [v.vodId, v.interrupted]), [[vod.id, true]], 'after that time another node does, marked interrupted');
    const finalizers = await Promise.all([vods.claimFinalization(vod.id, 'a', 600_000), vods.claimFinalization(vod.id, 'b', 600_000), vods.claimFinalization(vod.id, 'c', 600_000)]);
    t.equal(finalizers.filter(Boolean).length, 1, 'finalisation is claimed once');
    const winner = ['a', 'b', 'c'][finalizers.indexOf(true)]!;
    t.equal(await vods.claimFinalization(vod.id, winner, 600_000), true, 'the claimant takes its own claim again after a restart');
    const loser = ['a', 'b', 'c'].find((n) => n !== winner)!;
    t.equal(await vods.claimFinalization(vod.id, loser, 0), true, 'a stale claim may be taken over');
  });
}
