// Chat with real `ws` clients against a real server on PostgreSQL and Redis: what a viewer,
// a streamer and a moderator would see.
import t from 'tap';
import { chatTopic } from '../../chat/chat-service.ts';
import { registerUser } from '../helpers/server-harness.ts';
import WebSocket from 'ws';
import { ChatClient, startChatServer, type Frame } from '../helpers/chat-harness.ts';
import { createTestDatabase, uniquePrefix } from '../helpers/services.ts';
import { until } from '../helpers/media.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('chat on one server', async (t) => {
  const cs = await startChatServer(t);
  const { server } = cs;
  const register = (name: string) => registerUser(server, name);
  const [alice, bob, carol, dave, erin, mallory] = await Promise.all([register('alice'), register('bob'), register('carol'), register('dave'), register('erin'), register('mallory')]);
  const channelId = (await server.channels.bySlug('alice'))!.id;
  const api = (method: string, url: string, token: string, payload?: unknown) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const signedIn = async (session: { accessToken: string }, slug = 'alice') => {
    const client = await cs.connect(slug);
    const reply = await client.auth(session.accessToken);
    if (reply.type !== 'authed') throw new Error(`auth failed: ${JSON.stringify(reply)}`);
    return client;
  };
  const received = (client: ChatClient, match: (f: Frame) => boolean, what: string) => client.waitFor(match, what);
  // Viewer counts are pushed every 2 s; allow a few rounds.
  const VIEWERS_WAIT_MS = 8000;

  t.test('join: the last 50 messages, oldest first, and the viewer count', async (t) => {
    const start = Date.now() - 60_000;
    await server.database.db
      .insertInto('chat_messages')
      .values(Array.from({ length: 55 }, (_, i) => ({ channel_id: channelId, user_id: bob.user.id, text: `seed ${i}`, created_at: new Date(start + i * 100) })))
      .execute();
    const viewer = await cs.connect('alice');
    const history = viewer.welcome.history as Frame[];
    t.equal(history.length, 50);
    t.equal(history[0]!.text, 'seed 5');
    t.equal(history[49]!.text, 'seed 54');
    t.same(history[49]!.user, { id: bob.user.id, username: 'bob' });
    t.equal(viewer.welcome.slowModeS, 0);
    const second = await cs.connect('alice');
    await second.waitFor((f) => f.type === 'viewers' && f.count >= 2, 'a viewer count that includes both sockets', 0, VIEWERS_WAIT_MS);
    t.pass('the viewer count is pushed to the room');
    viewer.ws.close();
    second.ws.close();
    await t.rejects(cs.connect('nobody'), /upgrade refused: 404/, 'an unknown channel is refused before the upgrade');
  });

  t.test('posting: signed in, cleaned, delivered to everyone with server ids and times', async (t) => {
    const anon = await cs.connect('alice');
    const refused = await anon.post('hi');
    t.equal(refused.code, 'UNAUTHENTICATED', 'reading needs no account, posting does');
    const badAuth = await anon.auth('not-a-token');
    t.equal(badAuth.type, 'error');
    t.equal(badAuth.code, 'TOKEN_INVALID', 'a bad token is refused');
    t.equal(anon.ws.readyState, anon.ws.OPEN, 'and the socket lives on as a reader');

    const client = await cs.connect('alice');
    const authed = await client.auth(bob.accessToken);
    t.same(authed, { type: 'authed', user: { id: bob.user.id, username: 'bob' }, role: 'viewer' });
    const before = Date.now();
    const ack = await client.post('  hello\u0007 \u202Eworld\n ');
    t.equal(ack.type, 'ack');
    const seen = await received(anon, (f) => f.type === 'message' && f.message.id === ack.messageId, 'the message at another viewer');
    t.equal(seen.message.text, 'hello world', 'control and bidi-override characters stripped, line breaks folded, trimmed');
    t.same(seen.message.user, { id: bob.user.id, username: 'bob' });
    const createdAt = Date.parse(seen.message.createdAt);
    t.ok(createdAt >= before - 1000 && createdAt <= Date.now() + 1000, 'a server timestamp, taken while the post was on its way');
    t.equal(seen.message.offsetMs, null, 'the channel is offline: no offset into a recording');
    await received(client, (f) => f.type === 'message' && f.message.id === ack.messageId, 'the message echoed to its author');

    const sneaky = await client.post('\u061C\u200Bfree\uFEFF\u2028stuff\u2029here \u{1F468}\u200D\u{1F469}\u200D\u{1F467}');
    const sneakySeen = await received(anon, (f) => f.type === 'message' && f.message.id === sneaky.messageId, 'the cleaned message');
    t.equal(sneakySeen.message.text, 'free stuff here \u{1F468}\u200D\u{1F469}\u200D\u{1F467}', 'U+061C, U+200B, U+FEFF dropped, U+2028/U+2029 folded, an emoji family kept whole');
    t.equal((await client.post('\u200B\u3164\u200D\uFEFF')).code, 'MESSAGE_EMPTY', 'only invisible characters is empty');
    t.equal((await client.post(' \u0001\u0002 ')).code, 'MESSAGE_EMPTY');
    t.equal((await client.post('x'.repeat(501))).code, 'MESSAGE_TOO_LONG');
    t.equal((await client.post('é'.repeat(500))).type, 'ack', '500 characters is fine, however many bytes');

    const late = await cs.connect('alice');
    t.equal((late.welcome.history as Frame[]).at(-1)!.text, 'é'.repeat(500), 'a later joiner sees it in the history');
  });

  t.test('rate limit: a burst, then the refusal says when to try again', async (t) => {
    const client = await signedIn(carol);
    // A slow machine may take long enough between posts for the bucket to refill a token, so post
    // until the first refusal: at least the burst of 5 goes through, and a refusal does come.
    let acks = 0;
    let refused: Frame | undefined;
    for (let i = 0; i < 12 && !refused; i++) {
      const reply = await client.post(`burst ${i}`);
      if (reply.type === 'ack') acks++;
      else refused = reply;
    }
    t.ok(acks >= 5, `the burst of 5 goes through (${acks} acks)`);
    t.equal(refused?.code, 'RATE_LIMITED');
    if (!refused) return;
    t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 2000, `retry after ${refused.retryAfterMs} ms`);
    await wait(refused.retryAfterMs + 50); // the wait the server asked for is the behaviour under test
    t.equal((await client.post('after waiting')).type, 'ack', 'posting works again when it said');
  });

  t.test('slow mode: set by the owner, refused with the wait, owner exempt', async (t) => {
    const owner = await signedIn(alice);
    t.equal(owner.frames.find((f) => f.type === 'authed')!.role, 'owner');
    const viewer = await signedIn(dave);
    const denied = await viewer.request({ type: 'slow-mode', seconds: 2 }, (f) => f.type === 'error', 'a refusal');
    t.equal(denied.code, 'FORBIDDEN', 'a viewer cannot set slow mode');
    // Long enough that no machine is too slow to send the second post inside it.
    owner.send({ type: 'slow-mode', seconds: 30 });
    await received(viewer, (f) => f.type === 'slow-mode' && f.seconds === 30, 'slow mode announced');
    const sent = Date.now();
    t.equal((await viewer.post('first')).type, 'ack');
    const refused = await viewer.post('second');
    const elapsed = Date.now() - sent;
    t.equal(refused.code, 'SLOW_MODE');
    t.ok(refused.retryAfterMs >= 30_000 - elapsed - 1000 && refused.retryAfterMs <= 30_000, `retry after ${refused.retryAfterMs} ms, ${elapsed} ms after the first post`);
    t.equal((await owner.post('owner 1')).type, 'ack');
    t.equal((await owner.post('owner 2')).type, 'ack', 'the owner is not slowed');
    t.equal((await cs.connect('alice')).welcome.slowModeS, 30, 'a joiner learns the slow mode');

    const off = await api('PUT', '/api/v1/channels/alice/chat-settings', alice.accessToken, { slowModeS: 0 });
    t.equal(off.statusCode, 200);
    await received(viewer, (f) => f.type === 'slow-mode' && f.seconds === 0, 'slow mode off announced');
    t.equal((await viewer.post('free again')).type, 'ack');
  });

  t.test('delete: gone for everyone live and from history', async (t) => {
    const owner = await signedIn(alice);
    const author = await signedIn(bob);
    const watcher = await cs.connect('alice');
    const ack = await author.post('oops, my address');
    await received(watcher, (f) => f.type === 'message' && f.message.id === ack.messageId, 'the message');
    const forbidden = await author.request({ type: 'delete', messageId: ack.messageId }, (f) => f.type === 'error', 'a refusal');
    t.equal(forbidden.code, 'FORBIDDEN', 'a viewer cannot delete');
    owner.send({ type: 'delete', messageId: ack.messageId });
    for (const c of [watcher, author, owner]) await received(c, (f) => f.type === 'deleted' && f.messageId === ack.messageId, 'the deletion');
    const joiner = await cs.connect('alice');
    t.notOk((joiner.welcome.history as Frame[]).some((m) => m.id === ack.messageId), 'not in the history');
    const again = await owner.request({ type: 'delete', messageId: ack.messageId }, (f) => f.type === 'error', 'a refusal');
    t.equal(again.code, 'NOT_FOUND');

    const second = await author.post('also unwanted');
    const res = await api('DELETE', `/api/v1/channels/alice/chat/messages/${second.messageId}`, alice.accessToken);
    t.equal(res.statusCode, 204, 'the REST door deletes too');
    await received(watcher, (f) => f.type === 'deleted' && f.messageId === second.messageId, 'that deletion');
  });

  t.test('timeout: refused with the time left, then allowed again', async (t) => {
    const owner = await signedIn(alice);
    const target = await signedIn(mallory);
    // Long enough that a slow machine still posts inside it; the wait below is what the server asks.
    owner.send({ type: 'timeout', username: 'mallory', seconds: 6, reason: 'calm down' });
    const notice = await received(target, (f) => f.type === 'moderation' && f.action === 'timeout', 'the timeout notice');
    t.equal(notice.user.username, 'mallory');
    const refused = await target.post('let me talk');
    t.equal(refused.code, 'TIMED_OUT');
    t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 6000, `retry after ${refused.retryAfterMs} ms`);
    await wait(refused.retryAfterMs + 50);
    t.equal((await target.post('I am back')).type, 'ack');
  });

  t.test('ban and unban, moderators, the audit trail', async (t) => {
    const banned = await signedIn(erin);
    const res = await api('POST', '/api/v1/channels/alice/bans', alice.accessToken, { username: 'erin', reason: 'spam' });
    t.equal(res.statusCode, 204);
    await received(banned, (f) => f.type === 'moderation' && f.action === 'ban', 'the ban notice');
    t.equal((await banned.post('hello?')).code, 'BANNED');
    const list = await api('GET', '/api/v1/channels/alice/bans', alice.accessToken);
    t.match(list.json().bans, [{ user: { username: 'erin' }, expiresAt: null, reason: 'spam', by: 'alice' }]);
    t.equal((await api('GET', '/api/v1/channels/alice/bans', bob.accessToken)).statusCode, 403, 'a viewer cannot see the ban list');

    t.equal((await api('PUT', '/api/v1/channels/alice/moderators/bob', bob.accessToken)).statusCode, 403, 'only the owner appoints moderators');
    const appointed = await api('PUT', '/api/v1/channels/alice/moderators/bob', alice.accessToken);
    t.equal(appointed.statusCode, 200);
    t.same((await api('GET', '/api/v1/channels/alice/moderators', alice.accessToken)).json().moderators.map((m: Frame) => m.username), ['bob']);
    t.equal((await api('GET', '/api/v1/channels/alice/moderators', bob.accessToken)).statusCode, 403);

    const mod = await signedIn(bob);
    t.equal(mod.frames.find((f) => f.type === 'authed')!.role, 'moderator');
    const ownerBan = await mod.request({ type: 'ban', username: 'alice' }, (f) => f.type === 'error', 'a refusal');
    t.equal(ownerBan.code, 'FORBIDDEN', 'nobody bans the owner');
    mod.send({ type: 'unban', username: 'erin' });
    await received(banned, (f) => f.type === 'moderation' && f.action === 'unban', 'the unban notice');
    t.equal((await banned.post('thanks')).type, 'ack', 'unbanned users post again');
    const unbanAgain = await api('DELETE', '/api/v1/channels/alice/bans/erin', alice.accessToken);
    t.equal(unbanAgain.statusCode, 404);
    t.equal(unbanAgain.json().error.code, 'NOT_FOUND', 'errors keep the API shape');

    t.equal((await api('DELETE', '/api/v1/channels/alice/moderators/bob', alice.accessToken)).statusCode, 204);
    const demoted = await mod.request({ type: 'ban', username: 'erin' }, (f) => f.type === 'error', 'a refusal');
    t.equal(demoted.code, 'FORBIDDEN', 'a removed moderator has no powers left');

    const audit = await api('GET', '/api/v1/channels/alice/chat-audit?limit=200', alice.accessToken);
    t.equal(audit.statusCode, 200);
    const entries = audit.json().entries as Frame[];
    const summary = entries.map((e) => `${e.actor} ${e.action} ${e.target ?? ''}`.trim());
    for (const line of ['alice ban erin', 'alice moderator-add bob', 'bob unban erin', 'alice moderator-remove bob', 'alice timeout mallory', 'alice slow-mode', 'alice delete bob']) {
      t.ok(summary.includes(line), `audited: ${line}`);
    }
    t.ok(Date.parse(entries[0]!.createdAt) >= Date.parse(entries.at(-1)!.createdAt), 'newest first');
  });

  t.test('a signed-in socket loses posting rights as soon as its session is signed out', async (t) => {
    const judy = await registerUser(server, 'judy');
    const client = await signedIn(judy);
    t.equal((await client.post('before')).type, 'ack');
    const out = await server.app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: judy.refreshToken } });
    t.equal(out.statusCode, 204);
    const refused = await client.post('after sign-out');
    t.equal(refused.type, 'error', 'the next post is refused, not 15 minutes later');
    t.equal(refused.code, 'TOKEN_INVALID');
    t.equal((await client.post('again')).code, 'UNAUTHENTICATED', 'the socket is a reader again');
    t.equal(client.ws.readyState, client.ws.OPEN, 'and stays open');

    const moderator = await registerUser(server, 'kim');
    t.equal((await api('PUT', '/api/v1/channels/alice/moderators/kim', alice.accessToken)).statusCode, 200);
    const mod = await signedIn(moderator);
    t.equal((await api('POST', '/api/v1/auth/logout-all', moderator.accessToken)).statusCode, 204);
    const reply = await mod.request({ type: 'slow-mode', seconds: 30 }, (f) => f.type === 'error' || f.type === 'slow-mode', 'the reply to a slow-mode frame');
    t.equal(reply.code, 'TOKEN_INVALID', 'a moderator signed out everywhere cannot moderate from an open socket');
  });

  t.test('bad frames: an error frame for an invalid one; binary, oversized and floods close only that socket', async (t) => {
    const bystander = await signedIn(dave);
    const client = await cs.connect('alice');
    for (const [frame, pattern] of [
      ['not json', /not valid JSON/],
      [{ type: 'shout' }, /Unknown frame type/],
      [{ type: 'post' }, /Invalid "post" frame/],
      [{ type: 'timeout', username: 'bob', seconds: -1 }, /Invalid "timeout" frame/],
    ] as const) {
      const reply = await client.request(frame, (f) => f.type === 'error', 'an error frame');
      t.equal(reply.code, 'INVALID_FRAME');
      t.match(reply.message, pattern);
    }
    const ack = await bystander.post('still there?');
    await received(client, (f) => f.type === 'message' && f.message.id === ack.messageId, 'a message after the bad frames');

    const binary = await cs.connect('alice');
    binary.ws.send(Buffer.from([1, 2, 3]));
    t.equal((await binary.closed).code, 1003, 'binary frame: 1003');
    const big = await cs.connect('alice');
    big.send({ type: 'post', text: 'x'.repeat(5000) });
    t.equal((await big.closed).code, 1009, 'frame over 4 KiB: 1009');
    const flooder = await cs.connect('alice');
    for (let i = 0; i < 200 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.send({ type: 'shout' });
    t.equal((await flooder.closed).code, 1008, 'flood: 1008');

    t.equal(bystander.ws.readyState, bystander.ws.OPEN, 'other sockets are untouched');
    const after = await bystander.post('the room carries on');
    t.equal(after.type, 'ack');
  });

  t.test('a slow consumer is dropped and never slows the room', async (t) => {
    const fast = await cs.connect('alice');
    const slow = await cs.connect('alice');
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const droppedBefore = cs.chat.rooms.dropped;
    const text = '€'.repeat(500);
    let sent = 0;
    // Traffic as another node's posts would arrive: straight onto the channel's topic.
    const deadline = Date.now() + 20_000;
    while (cs.chat.rooms.dropped === droppedBefore && sent < 20_000 && Date.now() < deadline) {
      for (let i = 0; i < 200; i++, sent++) {
        await cs.chat.service.publish(channelId, {
          type: 'message',
          message: { id: `flood-${sent}`, user: { id: bob.user.id, username: 'bob' }, text, createdAt: new Date().toISOString(), offsetMs: null },
        });
      }
      await new Promise((r) => setImmediate(r));
    }
    t.ok(cs.chat.rooms.dropped > droppedBefore, `the slow socket was dropped after ${sent} messages`);
    await until(() => fast.messages().filter((m) => m.id.startsWith('flood-')).length === sent, 'the fast client to get every message', 10_000);
    t.pass(`the fast client received all ${sent} messages`);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    t.ok([1013, 1006].includes(closed.code), `the slow client is disconnected (${closed.code})`);
    t.ok(slow.messages().length < sent, 'having missed messages it could not keep up with');
    t.match(server.logs(), /too slow to keep up/);
  });
});

t.test('sockets per address and per account are limited; a refusal says why and touches no other socket', async (t) => {
  const cs = await startChatServer(t, { CHAT_MAX_SOCKETS_PER_IP: '3', CHAT_MAX_SOCKETS_PER_USER: '2', TRUST_PROXY: 'true' });
  const [owner, viewer] = await Promise.all([registerUser(cs.server, 'owner'), registerUser(cs.server, 'viewer')]);
  const url = `${cs.base.replace(/^http/, 'ws')}/chat/owner`;
  const opened: WebSocket[] = [];
  t.teardown(() => opened.forEach((ws) => ws.terminate()));
  // Resolves with the socket once open, or with the refusal's status and body.
  const open = (forwardedFor?: string) =>
    new Promise<{ ws?: WebSocket; status?: number; body?: any }>((resolve, reject) => {
      const ws = new WebSocket(url, forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {});
      opened.push(ws);
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
      ws.once('error', reject);
    });

  const first = await Promise.all([open(), open(), open()]);
  t.ok(first.every((r) => r.ws), 'three sockets from one address are accepted');
  const fourth = await open();
  t.equal(fourth.status, 429, 'the fourth is refused before the upgrade');
  t.equal(fourth.body.error.code, 'RATE_LIMITED');
  t.match(fourth.body.error.message, /Too many chat connections from your address \(at most 3\)/);
  t.ok((await open('198.51.100.9')).ws, 'behind a trusted proxy, another client address has its own count');
  t.equal((await open('2001:db8::1')).ws !== undefined && (await open('2001:db8::2')).ws !== undefined && (await open('2001:db8:0:0:1::3')).ws !== undefined, true);
  t.equal((await open('2001:db8::4')).status, 429, 'an IPv6 /64 counts as one address');
  first[0]!.ws!.close();
  await until(async () => (await open()).ws !== undefined, 'a place freed by a closed socket', 5000);
  t.pass('a closed socket frees its place');

  const clients = await Promise.all([1, 2, 3].map((i) => ChatClient.connect(url, { 'x-forwarded-for': `198.51.100.${20 + i}` })));
  t.teardown(() => clients.forEach((c) => c.ws.terminate()));
  const [a, b, c] = clients as [ChatClient, ChatClient, ChatClient];
  t.equal((await a.auth(viewer.accessToken)).type, 'authed');
  t.equal((await b.auth(viewer.accessToken)).type, 'authed');
  const third = await c.auth(viewer.accessToken);
  t.equal(third.code, 'TOO_MANY_CONNECTIONS', 'a third socket of one account is refused at its auth frame');
  t.equal((await a.auth(viewer.accessToken)).type, 'authed', 'a socket refreshing its own token is not counted twice');
  t.equal((await c.auth(owner.accessToken)).type, 'authed', 'the refused socket lives on and may sign in as someone else');
  const ack = await a.post('still here');
  await c.waitFor((f) => f.type === 'message' && f.message.id === ack.messageId, 'the message at the refused socket');
  b.ws.close();
  await b.closed;
  const d = await ChatClient.connect(url, { 'x-forwarded-for': '198.51.100.30' });
  clients.push(d);
  await until(async () => (await d.auth(viewer.accessToken)).type === 'authed', 'a freed account place', 5000);
  t.pass('closing a signed-in socket frees its place for the account');
});

t.test('a busy room batches what arrives together, and every viewer still gets each message once', async (t) => {
  const cs = await startChatServer(t);
  const users = await Promise.all(['host', 'poster1', 'poster2', 'poster3', 'poster4', 'poster5'].map((name) => registerUser(cs.server, name)));
  const viewer = await cs.connect('host');
  const posters = await Promise.all(users.slice(1).map(async (u) => {
    const c = await cs.connect('host');
    await c.auth(u.accessToken);
    return c;
  }));
  const texts = Array.from({ length: 15 }, (_, i) => `burst ${i}`);
  // Fifteen posts as fast as five users may make them (three each, within their burst).
  const acks = await Promise.all(texts.map((text, i) => posters[i % posters.length]!.post(text)));
  t.same(acks.map((a) => a.type), texts.map(() => 'ack'), 'every post accepted');
  await viewer.waitFor(() => viewer.messages().length >= texts.length, 'every message at the viewer');
  const seen = viewer.messages().map((m) => m.text as string);
  t.same([...seen].sort(), [...texts].sort(), 'each message exactly once');
  t.ok(viewer.batches >= 1, `messages arriving together came in ${viewer.batches} batch frame(s), not ${texts.length} frames`);
  const late = await cs.connect('host');
  t.same((late.welcome.history as Frame[]).map((m) => m.text).sort(), [...texts].sort(), 'a later joiner gets them as history');
});

t.test('replay: the messages of a range of a recording, by offset', async (t) => {
  const cs = await startChatServer(t);
  const { server } = cs;
  const db = server.database.db;
  const streamer = await registerUser(server, 'streamer');
  const channelId = (await server.channels.bySlug('streamer'))!.id;
  const session = await db
    .insertInto('live_sessions')
    // Owned by another node with a running lease: an ownerless row would be ended as node-lost.
    .values({ channel_id: channelId, started_at: new Date(Date.now() - 60_000), owner_node: 'node-elsewhere', owner_url: 'http://127.0.0.1:9', lease_expires_at: new Date(Date.now() + 600_000) })
    .returning('id')
    .executeTakeFirstOrThrow();
  const client = await cs.connect('streamer');
  await client.auth(streamer.accessToken);
  // Move the session's start so that each post lands `offset` ms into it (no ingest needed: any
  // node finds an open session in the database).
  const elapsedAt = new Map<number, number>();
  const postAt = async (offset: number, text: string) => {
    const before = Date.now();
    await db.updateTable('live_sessions').set({ started_at: new Date(before - offset) }).where('id', '=', session.id).execute();
    const ack = await client.post(text);
    const elapsed = Date.now() - before;
    elapsedAt.set(offset, elapsed);
    const frame = await client.waitFor((f) => f.type === 'message' && f.message.id === ack.messageId, text);
    // The offset is taken when the server handles the post: somewhere in the time the post took.
    t.ok(frame.message.offsetMs >= offset && frame.message.offsetMs <= offset + elapsed, `${text}: offset ${frame.message.offsetMs} (post took ${elapsed} ms)`);
    return ack.messageId as string;
  };
  await postAt(1000, 'at 1 s');
  await postAt(5000, 'at 5 s');
  const deleted = await postAt(6000, 'at 6 s, deleted');
  await postAt(9000, 'at 9 s');
  client.send({ type: 'delete', messageId: deleted });
  await client.waitFor((f) => f.type === 'deleted', 'the deletion');

  const replay = async (query: string) => {
    const res = await server.app.inject({ url: `/api/v1/live-sessions/${session.id}/chat${query}` });
    t.equal(res.statusCode, 200, query);
    const body = res.json();
    return { texts: (body.messages as Frame[]).map((m) => m.text), nextFrom: body.nextFrom as number | null };
  };
  t.same(await replay('?from=0&to=4000'), { texts: ['at 1 s'], nextFrom: null });
  t.same((await replay('?from=4000&to=20000')).texts, ['at 5 s', 'at 9 s'], 'a deleted message is not replayed');
  t.same((await replay('')).texts, ['at 1 s', 'at 5 s', 'at 9 s'], 'defaults: the first minute');
  const page = await replay('?from=0&to=20000&limit=2');
  t.same(page.texts, ['at 1 s', 'at 5 s']);
  t.ok(page.nextFrom! >= 9000, 'a full page says where to go on');
  t.same((await replay(`?from=${page.nextFrom}&to=20000&limit=2`)).texts, ['at 9 s']);

  // The same by VOD id, as a player beside the recording asks; a private VOD's chat is its owner's.
  const vod = await db
    .insertInto('vods')
    // The recording's first frame came 1.5 s into the session: VOD time = session time - 1500 ms.
    .values({ live_session_id: session.id, channel_id: channelId, started_at: new Date(), storage_prefix: 'vods/x', status: 'ready', media_offset_ms: 1500 })
    .returning('id')
    .executeTakeFirstOrThrow();
  const byVod = (await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat?from=3000&to=18500` })).json();
  t.same((byVod.messages as Frame[]).map((m) => m.text), ['at 5 s', 'at 9 s'], 'the VOD route replays its session, in recording time');
  const at5 = (byVod.messages as Frame[])[0]!.offsetMs as number;
  t.ok(at5 >= 3500 && at5 <= 3500 + elapsedAt.get(5000)!, `offsets are into the recording (${at5} ms for a message 5 s into the session)`);
  const start = (await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat?from=0&to=100` })).json();
  t.same((start.messages as Frame[]).map((m) => m.text), ['at 1 s'], 'what was said before the first frame shows at the start');
  t.equal((start.messages as Frame[])[0]!.offsetMs, 0);
  await db.updateTable('vods').set({ visibility: 'private' }).where('id', '=', vod.id).execute();
  const viewer = await registerUser(server, 'viewer');
  t.equal((await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat` })).statusCode, 401, 'a private VOD: anonymous refused');
  t.equal((await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat`, headers: { authorization: `Bearer ${viewer.accessToken}` } })).statusCode, 403, 'others refused');
  const own = await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat`, headers: { authorization: `Bearer ${streamer.accessToken}` } });
  t.equal(own.json().messages.length, 3, 'its owner reads it');
  t.equal((await server.app.inject({ url: '/api/v1/vods/00000000-0000-4000-8000-000000000000/chat' })).statusCode, 404);

  const unknown = await server.app.inject({ url: '/api/v1/live-sessions/00000000-0000-4000-8000-000000000000/chat' });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error.code, 'NOT_FOUND');
  const backwards = await server.app.inject({ url: `/api/v1/live-sessions/${session.id}/chat?from=5000&to=1000` });
  t.equal(backwards.statusCode, 400);
});

t.test('two servers on one Postgres and one Redis deliver each other’s messages both ways', async (t) => {
  const env = { DATABASE_URL: await createTestDatabase(t), REDIS_PREFIX: uniquePrefix('chat-nodes') };
  const a = await startChatServer(t, env);
  const b = await startChatServer(t, env);
  const alice = await registerUser(a.server, 'alice');
  const bob = await registerUser(b.server, 'bob');
  const onA = await a.connect('alice');
  t.equal((await onA.auth(alice.accessToken)).type, 'authed');
  const onB = await b.connect('alice');
  t.equal((await onB.auth(bob.accessToken)).type, 'authed', 'a token issued by one node is good on the other');

  const fromB = await onB.post('hello from B');
  t.equal((await onA.waitFor((f) => f.type === 'message' && f.message.id === fromB.messageId, 'B’s message on A')).message.text, 'hello from B');
  const fromA = await onA.post('hello from A');
  t.equal((await onB.waitFor((f) => f.type === 'message' && f.message.id === fromA.messageId, 'A’s message on B')).message.text, 'hello from A');

  onA.send({ type: 'delete', messageId: fromB.messageId });
  await onB.waitFor((f) => f.type === 'deleted' && f.messageId === fromB.messageId, 'the deletion on the other node');
  await onA.waitFor((f) => f.type === 'viewers' && f.count === 2, 'A counting B’s socket', 0, 8000);
  await onB.waitFor((f) => f.type === 'viewers' && f.count === 2, 'B counting A’s socket', 0, 8000);
  t.pass('the viewer count covers both nodes');

  // Neither node's live manager knows this session (ingest is elsewhere): the database does.
  const channelId = (await a.server.channels.bySlug('alice'))!.id;
  // Owned by a third node with a running lease (an ownerless row would be ended at once as node-lost).
  await a.server.database.db
    .insertInto('live_sessions')
    .values({ channel_id: channelId, started_at: new Date(Date.now() - 10_000), owner_node: 'node-elsewhere', owner_url: 'http://127.0.0.1:9', lease_expires_at: new Date(Date.now() + 600_000) })
    .execute();
  await until(async () => {
    const ack = await onB.post('during the stream');
    if (ack.type !== 'ack') throw new Error(JSON.stringify(ack));
    const frame = await onA.waitFor((f) => f.type === 'message' && f.message.id === ack.messageId, 'the live message');
    return frame.message.offsetMs !== null ? frame : null;
  }, 'a message with an offset into the session', 8000, 1000);
  t.pass('messages posted on any node carry the offset into the live session');
});
