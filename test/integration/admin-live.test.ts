// Suspension and the admin's end button against a real RTMP publish: the stream ends at once with
// its reason, the key is refused while suspended, and works again once lifted.
import { sql } from 'kysely';
import t from 'tap';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

t.test('suspending a live streamer ends the stream; the admin page ends one too', async (t) => {
  const server = await startTestServer(t, { LADDER: '', LIVE_GRACE_S: '2' });
  const admin = await registerUser(server, 'admin_one');
  const alice = await registerUser(server, 'alice');
  const adminAuth = { authorization: `Bearer ${admin.accessToken}` };
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { authorization: `Bearer ${alice.accessToken}` } })).json();
  const rtmp = `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`;
  const channel = async () => (await server.app.inject({ url: '/api/v1/channels/alice' })).json();
  const endReason = (sessionId: string) =>
    until(async () => (await sql<{ end_reason: string | null }>`select end_reason from live_sessions where id = ${sessionId}`.execute(server.database.db)).rows[0]?.end_reason, 'the session row to be ended', 10_000);
  const goLive = async () => {
    const publisher = publish(t, rtmp, { seconds: 300 });
    const live = await until(async () => {
      const c = await channel();
      return c.live ? c : null;
    }, 'the channel to go live', 30_000);
    return { publisher, sessionId: live.sessionId as string };
  };

  t.test('the admin ends a live stream from the live list', async (t) => {
    const { publisher, sessionId } = await goLive();
    // The list (the directory, every node) names streams whose master playlist is complete, a
    // moment after the owning node's channel page says live: wait for it, do not race it.
    const list = await until(async () => {
      const live = (await server.app.inject({ url: '/api/v1/admin/live', headers: adminAuth })).json().live;
      return live.length > 0 ? live : null;
    }, 'the stream in the admin live list', 15_000);
    t.match(list, [{ slug: 'alice', sessionId }], 'the stream is listed');
    const end = await server.app.inject({ method: 'POST', url: `/api/v1/admin/live/${list[0].channelId}/end`, headers: adminAuth });
    t.equal(end.statusCode, 204);
    t.equal(await endReason(sessionId), 'ended-by-admin');
    t.not(await publisher.exited, null, 'the publisher is disconnected');
    const again = await server.app.inject({ method: 'POST', url: `/api/v1/admin/live/${list[0].channelId}/end`, headers: adminAuth });
    t.equal(again.statusCode, 404, 'an offline channel cannot be ended');
  });

  t.test('a suspension ends the stream at once and refuses the key until lifted', async (t) => {
    const { publisher, sessionId } = await goLive();
    const res = await server.app.inject({ method: 'PUT', url: `/api/v1/admin/users/${alice.user.id}/suspension`, headers: adminAuth, payload: { reason: 'Stream sniping' } });
    t.equal(res.statusCode, 200);
    t.equal(await endReason(sessionId), 'suspended', 'the session ends with reason suspended');
    await publisher.exited;
    const c = await channel();
    t.equal(c.live, false);
    t.equal(c.suspended, true, 'the channel page data says suspended');

    const refused = publish(t, rtmp, { seconds: 10 });
    t.not(await refused.exited, 0, 'the stream key is refused while suspended');
    await until(() => server.logs().includes('"reason":"suspended"') && server.logs().includes('rtmp publish refused'), 'the refusal in the log');
    t.equal((await channel()).live, false);
    t.notOk(server.logs().includes(streamKey), 'the key is in no log line');

    t.equal((await server.app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${alice.user.id}/suspension`, headers: adminAuth })).statusCode, 200);
    const { publisher: back } = await goLive();
    t.ok(back, 'after the lift the same key streams again');
    await back.stopCleanly();
  });
});
