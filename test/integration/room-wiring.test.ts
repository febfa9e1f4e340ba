// The wiring between rooms built on separate branches, through the HTTP API on real PostgreSQL,
// Redis and ffmpeg: an upload that becomes ready is announced as a recording is (followers'
// notifications, vod.ready webhooks); comments can be reported and deleted from the queue; the
// reporter finds the outcome in their notifications (pushed to an open page too); suspending a
// commenter with their content hidden takes their comments out of the listings and counts, and
// lifting it brings them back.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import { verifySignature } from '../../social/webhook-delivery.ts';
import { until } from '../helpers/media.ts';
import { registerUser, startTestServer, type TestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { makeVideo as makeVideoRow } from '../helpers/social.ts';
import { makeVideo as makeVideoFile, settledVod, tusUpload } from '../helpers/uploads.ts';

function client(server: TestServer) {
  let ip = 0;
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, payload?: unknown) =>
    server.app.inject({ method, url, remoteAddress: `198.51.100.${++ip % 250}`, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  return {
    get: (url: string, token?: string) => call('GET', url, token),
    post: (url: string, payload: unknown, token?: string) => call('POST', url, token, payload),
    put: (url: string, payload: unknown, token?: string) => call('PUT', url, token, payload),
    del: (url: string, token?: string) => call('DELETE', url, token),
  };
}

interface CommentJson {
  id: string;
  text: string;
  replyCount: number;
  author: { username: string };
}

t.test('room wiring', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:300', X264_PRESET: 'ultrafast', WEBHOOK_ALLOW_PRIVATE: 'true' }, { social: { delivery: { attempts: 5, backoffMs: 300 }, writeLimits: { comment: { capacity: 50, refillPerSecond: 1 } } } });
  const base = await server.listen();
  t.teardown(() => !t.passing() && console.error(server.logs().split('\n').filter((l) => /"mod":"(social|jobs|transcode|admin)"|"level":[56]0/.test(l)).slice(-40).join('\n')));
  const api = client(server);
  const db = server.database.db;
  const root = await registerUser(server, 'root_admin');
  const creator = await registerUser(server, 'creator');
  const fan = await registerUser(server, 'fan');
  const reporter = await registerUser(server, 'reporter');
  const commenter = await registerUser(server, 'commenter');
  t.equal((await api.get('/api/v1/auth/me', root.accessToken)).json().role, 'admin', 'the first account is the admin');

  const comments = async (vodId: string, token?: string) => (await api.get(`/api/v1/vods/${vodId}/comments?limit=100`, token)).json().comments as CommentJson[];
  const commentCount = async (vodId: string) => (await api.get(`/api/v1/vods/${vodId}`, fan.accessToken)).json().commentCount as number;
  const comment = async (vodId: string, token: string, text: string, parentId?: string) => {
    const res = await api.post(`/api/v1/vods/${vodId}/comments`, parentId ? { text, parentId } : { text }, token);
    if (res.statusCode !== 201) throw new Error(`comment: ${res.statusCode} ${res.body}`);
    return res.json() as CommentJson;
  };

  await t.test('an upload that becomes ready notifies followers and calls vod.ready webhooks', async (t) => {
    t.equal((await api.put('/api/v1/channels/creator/follow', undefined, fan.accessToken)).statusCode, 200);
    const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => receiver.close(resolve)));
    const hook = await api.post('/api/v1/channels/creator/webhooks', { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, events: ['vod.ready'] }, creator.accessToken);
    t.equal(hook.statusCode, 201);
    const { secret } = hook.json();

    const dir = await tempDir(t, 'room-wiring');
    const file = await readFile(await makeVideoFile(dir, { seconds: 3, width: 320, height: 180, kbps: 300 }));
    const { vodId } = await tusUpload({ base, token: creator.accessToken, file, metadata: { filename: 'clip.mp4', title: 'Uploaded clip' } });
    const vod = await settledVod(base, creator.accessToken, vodId);
    t.equal(vod.status, 'ready', `the upload is transcoded (${vod.failureReason ?? ''})`);

    const notified = await until(async () => {
      const list = (await api.get('/api/v1/notifications', fan.accessToken)).json();
      return list.notifications.find((n: { kind: string; subjectId: string }) => n.kind === 'video' && n.subjectId === vodId) ? list : null;
    }, "the follower's video notification", 30_000);
    t.match(notified.notifications[0], { kind: 'video', subjectId: vodId, channel: { slug: 'creator' }, videoTitle: 'Uploaded clip', read: false }, 'the follower is told of the new video');
    t.equal(notified.unread, 1);
    t.equal((await api.get('/api/v1/notifications', creator.accessToken)).json().notifications.length, 0, 'the uploader, who does not follow themselves, is not');

    const delivery = await until(() => received.find((r) => r.headers['spillway-event'] === 'vod.ready'), 'the vod.ready webhook', 30_000);
    const body = JSON.parse(delivery.body);
    t.match(body, { type: 'vod.ready', data: { channel: { slug: 'creator' }, vod: { id: vodId, title: 'Uploaded clip', visibility: 'public' } } }, 'the webhook names the uploaded video');
    t.ok(verifySignature(secret, Number(delivery.headers['spillway-timestamp']), delivery.body, String(delivery.headers['spillway-signature'])), 'signed with the hook secret');
  });

  await t.test('a reported comment is deleted from the queue; the reporter is told in their notifications', async (t) => {
    const vodId = await makeVideoRow(server, 'creator', { title: 'Talk' });
    const keep = await comment(vodId, fan.accessToken, 'Great talk');
    const spam = await comment(vodId, commenter.accessToken, 'buy followers at spam.example');
    await comment(vodId, fan.accessToken, 'a reply that goes with it', spam.id);
    t.equal(await commentCount(vodId), 3);

    const missing = await api.post('/api/v1/reports', { targetKind: 'comment', targetId: '00000000-0000-4000-8000-000000000000', reason: 'spam' }, reporter.accessToken);
    t.equal(missing.statusCode, 404, 'a comment that does not exist cannot be reported');
    const filed = await api.post('/api/v1/reports', { targetKind: 'comment', targetId: spam.id, reason: 'spam link' }, reporter.accessToken);
    t.equal(filed.statusCode, 201, 'a comment can be reported');
    const onKeep = await api.post('/api/v1/reports', { targetKind: 'comment', targetId: keep.id, reason: 'I just dislike it' }, reporter.accessToken);
    t.equal(onKeep.statusCode, 201);
    const queue = (await api.get('/api/v1/admin/reports', root.accessToken)).json().reports as Array<{ id: string; targetKind: string; targetUser: string }>;
    t.match(queue.find((r) => r.id === filed.json().id), { targetKind: 'comment', targetUser: 'commenter' }, 'the queue names who wrote it');

    // The reporter has a page open: the outcome is pushed to it as it is stored.
    const frames: Array<{ type: string; unread?: number; notification?: { kind: string; subjectId: string; report: unknown } }> = [];
    const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/notifications/socket`);
    t.teardown(() => socket.close());
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'auth', token: reporter.accessToken }));
    await until(() => frames.find((f) => f.type === 'authed'), 'the authed frame');

    const resolved = await api.post(`/api/v1/admin/reports/${filed.json().id}/resolve`, { action: 'delete-content', note: 'Removed, thanks.' }, root.accessToken);
    t.equal(resolved.statusCode, 200, resolved.body);
    t.equal(resolved.json().status, 'content-deleted');
    const listed = await comments(vodId, fan.accessToken);
    t.same(listed.map((c) => c.text), ['Great talk'], 'the comment is gone from the list');
    t.equal(await commentCount(vodId), 1, 'and from the count, with its reply');
    const row = await db.selectFrom('comments').select(['deleted_at', 'deleted_by']).where('id', '=', spam.id).executeTakeFirstOrThrow();
    t.ok(row.deleted_at, 'soft-deleted, as an owner or moderator deletion is');
    t.equal(row.deleted_by, root.user.id, 'by the admin who acted');
    t.equal((await api.post('/api/v1/reports', { targetKind: 'comment', targetId: spam.id, reason: 'again' }, fan.accessToken)).statusCode, 404, 'a deleted comment cannot be reported');

    const pushed = await until(() => frames.find((f) => f.type === 'notification'), 'the outcome pushed to the open page', 15_000);
    t.match(pushed, { unread: 1, notification: { kind: 'report', subjectId: filed.json().id, report: { status: 'content-deleted', targetKind: 'comment', note: 'Removed, thanks.' } } });

    const dismissed = await api.post(`/api/v1/admin/reports/${onKeep.json().id}/resolve`, { action: 'dismiss', note: 'Not against the rules.' }, root.accessToken);
    t.equal(dismissed.statusCode, 200);
    t.same((await comments(vodId, fan.accessToken)).map((c) => c.text), ['Great talk'], 'a dismissed report leaves the comment');
    const list = (await api.get('/api/v1/notifications', reporter.accessToken)).json();
    t.equal(list.unread, 2, 'both outcomes are unread');
    t.match(
      list.notifications,
      [
        { kind: 'report', subjectId: onKeep.json().id, channel: null, read: false, report: { status: 'dismissed', targetKind: 'comment', note: 'Not against the rules.' } },
        { kind: 'report', subjectId: filed.json().id, channel: null, read: false, report: { status: 'content-deleted' } },
      ],
      'listed newest first, with the outcome',
    );
    t.equal((await api.get('/api/v1/notifications/unread', reporter.accessToken)).json().unread, 2);
    t.same((await api.post('/api/v1/notifications/read', { ids: [list.notifications[0].id] }, reporter.accessToken)).json(), { unread: 1 }, 'marked read like the others');
    t.equal((await api.get('/api/v1/notifications', commenter.accessToken)).json().notifications.length, 0, 'the reported author is not told');
  });

  await t.test('suspending a commenter hides their comments; lifting shows them again', async (t) => {
    const vodId = await makeVideoRow(server, 'creator', { title: 'Q&A' });
    const first = await comment(vodId, fan.accessToken, 'First question');
    const theirs = await comment(vodId, commenter.accessToken, 'My own thread');
    await comment(vodId, fan.accessToken, 'a reply in their thread', theirs.id);
    await comment(vodId, commenter.accessToken, 'their reply to the first', first.id);
    await comment(vodId, reporter.accessToken, 'another reply to the first', first.id);
    const before = await comments(vodId, fan.accessToken);
    t.same(before.map((c) => [c.text, c.replyCount]), [['My own thread', 1], ['First question', 2]]);
    t.equal(await commentCount(vodId), 5);

    const suspended = await api.put(`/api/v1/admin/users/${commenter.user.id}/suspension`, { reason: 'Spam', hideContent: true }, root.accessToken);
    t.equal(suspended.statusCode, 200, suspended.body);
    const hidden = await comments(vodId, fan.accessToken);
    t.same(hidden.map((c) => [c.text, c.replyCount]), [['First question', 1]], 'their comment is not listed to others, their reply not counted');
    t.same((await api.get(`/api/v1/vods/${vodId}/comments/${first.id}/replies`, fan.accessToken)).json().comments.map((c: CommentJson) => c.text), ['another reply to the first'], 'nor among the replies');
    t.equal((await api.get(`/api/v1/vods/${vodId}/comments/${theirs.id}/replies`, fan.accessToken)).statusCode, 404, 'their thread is out of view');
    t.equal(await commentCount(vodId), 2, 'the count leaves out their comments and the thread under theirs');
    t.equal((await api.post(`/api/v1/vods/${vodId}/comments`, { text: 'replying anyway', parentId: theirs.id }, fan.accessToken)).statusCode, 404, 'a hidden comment takes no replies');
    // A reply deleted meanwhile under the hidden thread was already out of the count.
    const under = (await db.selectFrom('comments').select('id').where('parent_id', '=', theirs.id).executeTakeFirstOrThrow()).id;
    t.equal((await api.del(`/api/v1/vods/${vodId}/comments/${under}`, fan.accessToken)).statusCode, 204);
    t.equal(await commentCount(vodId), 2, 'deleting under a hidden thread leaves the count alone');

    const lifted = await api.del(`/api/v1/admin/users/${commenter.user.id}/suspension`, root.accessToken);
    t.equal(lifted.statusCode, 200);
    const back = await comments(vodId, fan.accessToken);
    t.same(back.map((c) => [c.text, c.replyCount]), [['My own thread', 0], ['First question', 2]], 'their comments are back; what was deleted stays deleted');
    t.equal(await commentCount(vodId), 4, 'and counted again');

    // Suspension without hiding leaves the comments in view.
    t.equal((await api.put(`/api/v1/admin/users/${commenter.user.id}/suspension`, { reason: 'A warning' }, root.accessToken)).statusCode, 200);
    t.equal((await comments(vodId, fan.accessToken)).length, 2, 'not hidden unless asked');
    t.equal(await commentCount(vodId), 4);
  });
});
