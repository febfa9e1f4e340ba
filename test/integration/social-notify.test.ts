// Going live, end to end: a real ffmpeg publishes over RTMP; followers get one stored notification
// each, pushed at once to an open socket; a flapping publisher (reconnecting within the grace
// window) notifies no second time; the owner's webhook receiver, started here, checks every
// signature and sees the queue retry after it answers 500; the recording's vod.ready notifies too.
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import { verifySignature } from '../../social/webhook-delivery.ts';
import { renditionNow } from '../helpers/live-view.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { bearer } from '../helpers/social.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  answered: number;
}

t.test('go-live notifications and webhooks', async (t) => {
  const server = await startTestServer(t, { LADDER: '', LIVE_GRACE_S: '300', WEBHOOK_ALLOW_PRIVATE: 'true' }, { social: { delivery: { attempts: 5, backoffMs: 300 }, peakIntervalMs: 200 } });
  const base = await server.listen();
  // On failure, the social and jobs log lines say what the queue did.
  t.teardown(() => !t.passing() && console.error(server.logs().split('\n').filter((l) => /"mod":"(social|jobs)"|"level":[56]0/.test(l)).slice(-30).join('\n')));
  const app = server.app;
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const carol = await registerUser(server, 'carol');
  const dave = await registerUser(server, 'dave');
  for (const u of [bob, carol]) t.equal((await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow', headers: bearer(u.accessToken) })).statusCode, 200);

  // The receiver answers 500 to the first delivery of each event, 200 after.
  const received: Received[] = [];
  const seenEvents = new Set<string>();
  const receiver = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const event = String(req.headers['spillway-event']);
      const answered = seenEvents.has(event) ? 200 : 500;
      seenEvents.add(event);
      received.push({ headers: req.headers, body, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  const created = await app.inject({ method: 'POST', url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken), payload: { url: hookUrl, events: ['stream.started', 'stream.ended', 'vod.ready'] } });
  t.equal(created.statusCode, 201);
  const { secret, id: hookId } = created.json();
  t.match(secret, /^whsec_/);
  t.notOk(JSON.stringify((await app.inject({ url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken) })).json()).includes(secret), 'the secret is shown once, never listed');
  const stored = await server.database.db.selectFrom('webhooks').select('secret_ciphertext').executeTakeFirstOrThrow();
  t.notOk(stored.secret_ciphertext.includes(secret.slice(6)), 'the secret is not stored in clear');

  // Bob has the page open: his socket signs in and waits.
  const frames: Array<{ type: string; unread?: number; notification?: { kind: string; channel: { slug: string }; subjectId: string } }> = [];
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/notifications/socket`);
  t.teardown(() => socket.close());
  socket.on('message', (data) => frames.push(JSON.parse(String(data))));
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'auth', token: 'not-a-token' }));
  await until(() => frames.find((f) => f.type === 'error'), 'a refused auth frame');
  socket.send(JSON.stringify({ type: 'auth', token: bob.accessToken }));
  await until(() => frames.find((f) => f.type === 'authed'), 'the authed frame');
  t.equal(frames.find((f) => f.type === 'authed')!.unread, 0);

  // A socket flooding frames, or sending binary ones, is closed; bob's stays open.
  const closeCode = async (send: (ws: WebSocket) => void) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/notifications/socket`);
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    send(ws);
    return closed;
  };
  t.equal(await closeCode((ws) => { for (let i = 0; i < 10; i++) ws.send('{"type":"auth","token":"x"}'); }), 1008, 'flooding closes with 1008');
  t.equal(await closeCode((ws) => ws.send(Buffer.from([1, 2, 3]))), 1003, 'a binary frame closes with 1003');
  t.equal(socket.readyState, WebSocket.OPEN);

  const key = (await app.inject({ url: '/api/v1/channels/alice/stream-key', headers: bearer(alice.accessToken) })).json().streamKey;
  const rtmp = `rtmp://127.0.0.1:${server.ingest.port}/live/${key}`;
  const channel = async () => (await app.inject({ url: '/api/v1/channels/alice' })).json();
  const first = publish(t, rtmp, { seconds: 300 });
  const live = await until(async () => {
    const c = await channel();
    return c.live ? c : null;
  }, 'the channel to go live', 20_000);

  // Two players with different agents fetch the playlists: the channel keeps their peak.
  for (const agent of ['player-a', 'player-b']) {
    await fetch(`${base}${live.playbackUrl.replace(/master\.m3u8$/, 'source/index.m3u8')}`, { headers: { 'user-agent': agent } }).then((r) => r.arrayBuffer());
  }
  const peak = await until(async () => ((await channel()).peakViewers >= 2 ? (await channel()).peakViewers : null), 'the peak viewers', 10_000);
  t.equal(peak, 2, 'the live stream keeps its peak of concurrent viewers');

  const pushed = await until(() => frames.find((f) => f.type === 'notification'), 'the notification pushed to the open socket', 15_000);
  t.match(pushed, { unread: 1, notification: { kind: 'live', channel: { slug: 'alice' }, subjectId: live.sessionId } }, 'pushed without a reload');
  const rows = async () => server.database.db.selectFrom('notifications').innerJoin('users', 'users.id', 'notifications.user_id').select(['users.username', 'notifications.kind', 'notifications.subject_id']).execute();
  await until(async () => (await rows()).length === 2, 'both followers notified');
  t.same((await rows()).map((r) => r.username).sort(), ['bob', 'carol'], 'followers only: not dave, not alice');

  await until(() => received.filter((r) => r.headers['spillway-event'] === 'stream.started').length >= 2, 'stream.started delivered after a retry', 20_000);
  const starts = received.filter((r) => r.headers['spillway-event'] === 'stream.started');
  t.same(starts.map((r) => r.answered), [500, 200], 'answered 500, retried, then delivered');
  for (const r of starts) {
    const ts = Number(r.headers['spillway-timestamp']);
    t.ok(Math.abs(Date.now() / 1000 - ts) < 60, 'a fresh timestamp');
    t.ok(verifySignature(secret, ts, r.body, String(r.headers['spillway-signature'])), 'the signature verifies with the secret');
    t.notOk(verifySignature(secret, ts + 1, r.body, String(r.headers['spillway-signature'])), 'and not for another timestamp');
  }
  t.equal(starts[0]!.body, starts[1]!.body, 'a retry sends the same body');
  t.match(JSON.parse(starts[0]!.body), { type: 'stream.started', data: { channel: { slug: 'alice' }, sessionId: live.sessionId } });
  await until(async () => (await app.inject({ url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken) })).json().webhooks[0].lastStatus === 'delivered', 'the last status to show delivered');
  const deliveries = (await app.inject({ url: `/api/v1/channels/alice/webhooks/${hookId}/deliveries`, headers: bearer(alice.accessToken) })).json().deliveries;
  t.match(deliveries[0], { event: 'stream.started', status: 'delivered', attempts: 2, lastStatusCode: 200 });
  t.equal((await app.inject({ url: `/api/v1/channels/alice/webhooks/${hookId}/deliveries`, headers: bearer(bob.accessToken) })).statusCode, 403, "not for another user's eyes");

  t.test('a flapping publisher notifies once', async (t) => {
    await first.stop();
    const again = publish(t, rtmp, { seconds: 300 });
    await until(() => renditionNow(server.live.live()[0], 'source')?.lastDiscontinuityMsn != null, 'the reconnected stream', 20_000);
    t.equal((await channel()).sessionId, live.sessionId, 'the grace window kept the session');
    // Whatever a second go-live would have queued has had a round of the jobs queue to run.
    await until(async () => (await server.jobs.get('social-fanout', `fanout.live.${live.sessionId}`))?.state === 'completed', 'the fan-out job to be done', 10_000);
    t.equal((await rows()).length, 2, 'still one notification per follower');
    t.equal(received.filter((r) => r.headers['spillway-event'] === 'stream.started').length, 2, 'no second stream.started');
    t.equal(frames.filter((f) => f.type === 'notification').length, 1, 'no second push');

    t.test('ending the stream: stream.ended, then the recording notifies as a video', async (t) => {
      await again.stopCleanly();
      await until(() => received.some((r) => r.headers['spillway-event'] === 'stream.ended' && r.answered === 200), 'stream.ended delivered', 30_000);
      const ended = JSON.parse(received.find((r) => r.headers['spillway-event'] === 'stream.ended')!.body);
      t.match(ended, { type: 'stream.ended', data: { sessionId: live.sessionId, reason: 'unpublished' } });
      const video = await until(() => frames.find((f) => f.notification?.kind === 'video'), 'the new video pushed', 60_000);
      t.equal(video.unread, 2);
      const list = (await app.inject({ url: '/api/v1/notifications', headers: bearer(bob.accessToken) })).json();
      t.same(list.notifications.map((n: { kind: string }) => n.kind), ['video', 'live'], 'newest first');
      t.equal(list.unread, 2);
      const markOne = await app.inject({ method: 'POST', url: '/api/v1/notifications/read', headers: bearer(bob.accessToken), payload: { ids: [list.notifications[1].id] } });
      t.same(markOne.json(), { unread: 1 });
      t.equal((await app.inject({ method: 'POST', url: '/api/v1/notifications/read', headers: bearer(carol.accessToken), payload: { ids: [list.notifications[0].id] } })).json().unread, 2, "marking someone else's does nothing");
      t.same((await app.inject({ method: 'POST', url: '/api/v1/notifications/read', headers: bearer(bob.accessToken), payload: { all: true } })).json(), { unread: 0 });
      t.equal((await app.inject({ url: '/api/v1/notifications/unread', headers: bearer(dave.accessToken) })).json().unread, 0);
      await until(() => received.some((r) => r.headers['spillway-event'] === 'vod.ready' && r.answered === 200), 'vod.ready delivered', 30_000);
    });
  });
});
