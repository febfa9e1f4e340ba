// Roles, registration policy, instance settings across two nodes, reports and suspension, on real
// PostgreSQL and Redis through the HTTP API.
import { sql } from 'kysely';
import t from 'tap';
import { until } from '../helpers/media.ts';
import { registerUser, startTestServer, type TestServer } from '../helpers/server-harness.ts';

const PASSWORD = 'correct horse battery';

function client(server: TestServer) {
  let ip = 0;
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, token?: string, payload?: unknown) =>
    server.app.inject({ method, url, remoteAddress: `192.0.2.${++ip % 250}`, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  return {
    get: (url: string, token?: string) => call('GET', url, token),
    post: (url: string, payload: unknown, token?: string) => call('POST', url, token, payload),
    patch: (url: string, payload: unknown, token?: string) => call('PATCH', url, token, payload),
    put: (url: string, payload: unknown, token?: string) => call('PUT', url, token, payload),
    del: (url: string, token?: string) => call('DELETE', url, token),
  };
}

t.test('admin', async (t) => {
  const server = await startTestServer(t);
  const api = client(server);
  const db = server.database.db;
  const root = await registerUser(server, 'root_admin');
  const mallory = await registerUser(server, 'mallory');
  const auditCount = async () => Number((await db.selectFrom('admin_audit').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  t.test('the first account is the admin; everyone else gets 403 from the admin API', async (t) => {
    t.equal(root.user.username, 'root_admin');
    t.equal((await api.get('/api/v1/auth/me', root.accessToken)).json().role, 'admin');
    t.equal((await api.get('/api/v1/auth/me', mallory.accessToken)).json().role, 'user');
    for (const url of ['/api/v1/admin/users', '/api/v1/admin/reports', '/api/v1/admin/settings', '/api/v1/admin/live', '/api/v1/admin/storage', '/api/v1/admin/audit']) {
      const res = await api.get(url, mallory.accessToken);
      t.equal(res.statusCode, 403, `${url}: 403 to an ordinary user`);
      t.equal(res.json().error.code, 'FORBIDDEN');
      t.equal((await api.get(url)).statusCode, 401, `${url}: 401 signed out`);
      t.equal((await api.get(url, root.accessToken)).statusCode, 200, `${url}: 200 to the admin`);
    }
    const patch = await api.patch(`/api/v1/admin/users/${mallory.user.id}`, { role: 'admin' }, mallory.accessToken);
    t.equal(patch.statusCode, 403, 'a user cannot make themselves admin');
    t.equal((await api.get('/api/v1/auth/me', mallory.accessToken)).json().role, 'user');
  });

  t.test('admins search users and grant roles; the last admin stays; every action is audited', async (t) => {
    const found = await api.get('/api/v1/admin/users?q=MALL', root.accessToken);
    t.same(found.json().users.map((u: { username: string }) => u.username), ['mallory'], 'search by part of the name, any case');
    const byEmail = await api.get('/api/v1/admin/users?q=root_admin%40example', root.accessToken);
    t.equal(byEmail.json().users.length, 1, 'or of the email');

    const before = await auditCount();
    const last = await api.patch(`/api/v1/admin/users/${root.user.id}`, { role: 'user' }, root.accessToken);
    t.equal(last.statusCode, 409);
    t.equal(last.json().error.code, 'LAST_ADMIN', 'the last admin cannot step down');
    t.equal((await api.get('/api/v1/auth/me', root.accessToken)).json().role, 'admin', 'nothing changed');
    t.equal(await auditCount(), before, 'and nothing was audited');
    const leave = await server.app.inject({ method: 'DELETE', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${root.accessToken}` }, payload: { password: PASSWORD } });
    t.equal(leave.statusCode, 409, 'nor delete their account');
    t.equal(leave.json().error.code, 'LAST_ADMIN');
    t.equal((await api.get('/api/v1/auth/me', root.accessToken)).statusCode, 200, 'which is still there');

    const mod = await registerUser(server, 'moddy');
    const granted = await api.patch(`/api/v1/admin/users/${mod.user.id}`, { role: 'moderator' }, root.accessToken);
    t.equal(granted.statusCode, 200);
    t.equal(granted.json().role, 'moderator');
    t.equal((await api.get('/api/v1/admin/reports', mod.accessToken)).statusCode, 200, 'a moderator sees the reports queue');
    t.equal((await api.patch(`/api/v1/admin/users/${mallory.user.id}`, { role: 'moderator' }, mod.accessToken)).statusCode, 403, 'but grants no roles');
    t.equal((await api.patch('/api/v1/admin/settings', { name: 'Mine' }, mod.accessToken)).statusCode, 403, 'and changes no settings');

    const second = await registerUser(server, 'second_admin');
    t.equal((await api.patch(`/api/v1/admin/users/${second.user.id}`, { role: 'admin' }, root.accessToken)).statusCode, 200);
    const stepDown = await api.patch(`/api/v1/admin/users/${second.user.id}`, { role: 'user' }, second.accessToken);
    t.equal(stepDown.statusCode, 200, 'with two admins, one may step down');
    const audit = (await api.get('/api/v1/admin/audit', root.accessToken)).json().entries as Array<{ actor: string; action: string; targetUser: string; details: { to?: string } }>;
    t.ok(audit.some((e) => e.actor === 'root_admin' && e.action === 'role-set' && e.targetUser === 'moddy' && e.details.to === 'moderator'), 'the grant is audited');
    t.ok(audit.some((e) => e.actor === 'second_admin' && e.targetUser === 'second_admin' && e.details.to === 'user'), 'and the step down');
  });

  t.test('registration follows the policy: closed, invite, approval', async (t) => {
    const users = async () => Number((await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const signUp = (username: string, extra: Record<string, string> = {}) =>
      api.post('/api/v1/auth/register', { username, email: `${username}@example.test`, password: PASSWORD, ...extra });

    t.equal((await api.patch('/api/v1/admin/settings', { registration: 'closed' }, root.accessToken)).json().registration, 'closed');
    const count = await users();
    const closed = await signUp('nope');
    t.equal(closed.statusCode, 403);
    t.equal(closed.json().error.code, 'REGISTRATION_CLOSED');
    t.equal((await api.get('/api/v1/instance')).json().registration, 'closed', 'the public description says so');

    await api.patch('/api/v1/admin/settings', { registration: 'invite' }, root.accessToken);
    t.equal((await signUp('nope')).json().error.code, 'INVITE_REQUIRED');
    t.equal((await signUp('nope', { inviteCode: 'made-up-code' })).json().error.code, 'INVITE_INVALID');
    t.equal((await api.post('/api/v1/admin/invites', {}, mallory.accessToken)).statusCode, 403, 'only admins make invites');
    const invite = await api.post('/api/v1/admin/invites', { maxUses: 1 }, root.accessToken);
    t.equal(invite.statusCode, 201);
    t.match(invite.json().url, /\/signup\?invite=[A-Za-z0-9_-]+$/);
    const code = invite.json().code as string;
    t.equal((await signUp('invited', { inviteCode: code })).statusCode, 201, 'an invite link lets one in');
    const used = await signUp('invited2', { inviteCode: code });
    t.equal(used.json().error.code, 'INVITE_INVALID', 'a one-use invite works once');
    t.equal(await users(), count + 1, 'no account was made by any refusal');

    await api.patch('/api/v1/admin/settings', { registration: 'approval' }, root.accessToken);
    const pending = await signUp('waiting');
    t.equal(pending.statusCode, 202);
    t.equal(pending.json().pending, true);
    t.notOk(pending.json().accessToken, 'no session before approval');
    const early = await api.post('/api/v1/auth/login', { username: 'waiting', password: PASSWORD });
    t.equal(early.statusCode, 403);
    t.equal(early.json().error.code, 'ACCOUNT_PENDING');
    const approved = await api.patch(`/api/v1/admin/users/${pending.json().user.id}`, { approved: true }, root.accessToken);
    t.equal(approved.json().pendingApproval, false);
    t.equal((await api.post('/api/v1/auth/login', { username: 'waiting', password: PASSWORD })).statusCode, 200, 'approved: may sign in');
    await api.patch('/api/v1/admin/settings', { registration: 'open' }, root.accessToken);
  });

  t.test('instance settings change on every node without a restart', async (t) => {
    const other = await startTestServer(t, { DATABASE_URL: server.config.databaseUrl!, REDIS_PREFIX: server.config.redisPrefix });
    t.equal(other.settings.current().name, 'Spillway');
    const bad = await api.patch('/api/v1/admin/settings', { maxLiveDurationS: -1 }, root.accessToken);
    t.equal(bad.statusCode, 400, 'a bad value is refused');
    const unknown = await api.patch('/api/v1/admin/settings', { colour: 'red' }, root.accessToken);
    t.equal(unknown.statusCode, 400, 'an unknown setting is refused');
    const res = await api.patch('/api/v1/admin/settings', { name: 'River Stream', maxLiveDurationS: 3600, recordingLimitMb: 500, registration: 'closed' }, root.accessToken);
    t.equal(res.statusCode, 200);
    t.equal(res.json().name, 'River Stream');
    await until(() => other.settings.current().name === 'River Stream', 'the other node to see the change');
    t.equal(other.settings.current().maxLiveDurationS, 3600);
    t.equal((await client(other).get('/api/v1/instance')).json().name, 'River Stream');
    const refused = await client(other).post('/api/v1/auth/register', { username: 'elsewhere', email: 'elsewhere@example.test', password: PASSWORD });
    t.equal(refused.json().error.code, 'REGISTRATION_CLOSED', 'the other node applies the new policy');
    await api.patch('/api/v1/admin/settings', { registration: 'open', recordingLimitMb: 0 }, root.accessToken);
    await until(() => other.settings.current().registration === 'open', 'the other node to reopen');
  });

  t.test('reports: filed, refused when bad, acted on, and the reporter reads the outcome', async (t) => {
    const reporter = await registerUser(server, 'reporter');
    const channel = (await api.get('/api/v1/channels/mallory')).json();
    const reports = async () => Number((await db.selectFrom('reports').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await reports();
    const bad: Array<[string, unknown, number, string]> = [
      ['a channel that does not exist', { targetKind: 'channel', targetId: '00000000-0000-4000-8000-000000000000', reason: 'spam' }, 404, 'NOT_FOUND'],
      ['a video that does not exist', { targetKind: 'video', targetId: '00000000-0000-4000-8000-000000000000', reason: 'spam' }, 404, 'NOT_FOUND'],
      ['a chat message that does not exist', { targetKind: 'chat-message', targetId: '00000000-0000-4000-8000-000000000000', reason: 'spam' }, 404, 'NOT_FOUND'],
      ['a comment that does not exist', { targetKind: 'comment', targetId: '00000000-0000-4000-8000-000000000000', reason: 'spam' }, 404, 'NOT_FOUND'],
      ['an unknown kind', { targetKind: 'planet', targetId: channel.id, reason: 'spam' }, 400, 'VALIDATION'],
      ['an id that is no id', { targetKind: 'channel', targetId: 'mallory', reason: 'spam' }, 400, 'VALIDATION'],
      ['no reason', { targetKind: 'channel', targetId: channel.id, reason: '' }, 400, 'VALIDATION'],
      ['a reason that is only invisible characters', { targetKind: 'channel', targetId: channel.id, reason: '\u200b\u200b' }, 400, 'VALIDATION'],
      ['an over-long reason', { targetKind: 'channel', targetId: channel.id, reason: 'x'.repeat(1001) }, 400, 'VALIDATION'],
    ];
    for (const [name, payload, status, code] of bad) {
      const res = await api.post('/api/v1/reports', payload, reporter.accessToken);
      t.equal(res.statusCode, status, `${name}: ${status}`);
      t.equal(res.json().error.code, code, `${name}: ${code}`);
    }
    t.equal((await api.post('/api/v1/reports', { targetKind: 'channel', targetId: channel.id, reason: 'spam' })).statusCode, 401, 'signed-in users only');
    t.equal(await reports(), before, 'no report was stored by a refusal');

    const filed = await api.post('/api/v1/reports', { targetKind: 'channel', targetId: channel.id, reason: 'Impersonates\nanother streamer' }, reporter.accessToken);
    t.equal(filed.statusCode, 201);
    t.equal(filed.json().status, 'open');
    const dup = await api.post('/api/v1/reports', { targetKind: 'channel', targetId: channel.id, reason: 'again' }, reporter.accessToken);
    t.equal(dup.statusCode, 409);
    t.equal(dup.json().error.code, 'ALREADY_REPORTED');

    // A chat message by mallory in her own channel, reported and deleted from the queue.
    const message = await db.insertInto('chat_messages').values({ channel_id: channel.id, live_session_id: null, offset_ms: null, user_id: mallory.user.id, text: 'buy followers at spam.example' }).returning('id').executeTakeFirstOrThrow();
    const onChat = await api.post('/api/v1/reports', { targetKind: 'chat-message', targetId: message.id, reason: 'spam link' }, reporter.accessToken);
    t.equal(onChat.statusCode, 201);
    const queue = (await api.get('/api/v1/admin/reports', root.accessToken)).json().reports as Array<{ id: string; targetKind: string; reporter: string; targetUser: string }>;
    const item = queue.find((r) => r.id === onChat.json().id)!;
    t.equal(item.reporter, 'reporter');
    t.equal(item.targetUser, 'mallory', 'the queue names who wrote it');
    t.equal((await api.post(`/api/v1/admin/reports/${item.id}/resolve`, { action: 'dismiss' }, reporter.accessToken)).statusCode, 403, 'a user cannot resolve reports');
    const deleted = await api.post(`/api/v1/admin/reports/${item.id}/resolve`, { action: 'delete-content', note: 'Removed, thanks.' }, root.accessToken);
    t.equal(deleted.statusCode, 200);
    t.equal(deleted.json().status, 'content-deleted');
    const row = await db.selectFrom('chat_messages').select('deleted_at').where('id', '=', message.id).executeTakeFirstOrThrow();
    t.ok(row.deleted_at, 'the message is deleted');
    const again = await api.post(`/api/v1/admin/reports/${item.id}/resolve`, { action: 'dismiss' }, root.accessToken);
    t.equal(again.statusCode, 409);
    t.equal(again.json().error.code, 'ALREADY_RESOLVED');
    const told = (await api.get('/api/v1/notifications', reporter.accessToken)).json().notifications as Array<{ kind: string; subjectId: string; report: unknown }>;
    t.match(told.find((n) => n.kind === 'report' && n.subjectId === item.id), { report: { status: 'content-deleted', targetKind: 'chat-message', note: 'Removed, thanks.' } }, 'the outcome is in the reporter\'s notifications');
    const mine = (await api.get('/api/v1/reports/mine', reporter.accessToken)).json().reports as Array<{ id: string; status: string; resolutionNote: string }>;
    t.match(mine.find((r) => r.id === item.id), { status: 'content-deleted', resolutionNote: 'Removed, thanks.' }, 'the reporter reads the outcome');

    const noDelete = await api.post(`/api/v1/admin/reports/${filed.json().id}/resolve`, { action: 'delete-content' }, root.accessToken);
    t.equal(noDelete.statusCode, 400, 'a channel is not deleted from a report');
    t.equal((await api.get('/api/v1/reports/mine', reporter.accessToken)).json().reports.find((r: { id: string }) => r.id === filed.json().id).status, 'open', 'and the report stays open');
    const dismissed = await api.post(`/api/v1/admin/reports/${filed.json().id}/resolve`, { action: 'dismiss', note: 'Not impersonation.' }, root.accessToken);
    t.equal(dismissed.json().status, 'dismissed');
  });

  t.test('a flood of reports is refused and stores nothing more', async (t) => {
    const flooder = await registerUser(server, 'flooder');
    const targets = [];
    for (let i = 0; i < 12; i++) targets.push((await registerUser(server, `target${i}`)).user.username);
    const statuses = [];
    for (const slug of targets) {
      const id = (await api.get(`/api/v1/channels/${slug}`)).json().id;
      statuses.push((await api.post('/api/v1/reports', { targetKind: 'channel', targetId: id, reason: 'flood' }, flooder.accessToken)).statusCode);
    }
    t.same(statuses.slice(0, 10), Array(10).fill(201), 'ten reports an hour');
    t.same(statuses.slice(10), [429, 429], 'then 429');
    const stored = await db.selectFrom('reports').innerJoin('users', 'users.id', 'reports.reporter_id').select('reports.id').where('users.username', '=', 'flooder').execute();
    t.equal(stored.length, 10, 'only the allowed ones are stored');
  });

  t.test('suspension: sessions, sign-in, stream key, chat and channel page; then lifted', async (t) => {
    const victim = await registerUser(server, 'suspendee');
    const other = (await api.post('/api/v1/auth/login', { username: 'suspendee', password: PASSWORD })).json();
    const channel = (await api.get('/api/v1/channels/suspendee')).json();
    await db.insertInto('chat_messages').values({ channel_id: channel.id, live_session_id: null, offset_ms: null, user_id: victim.user.id, text: 'hello from before' }).execute();
    const history = async () => (await server.chat.service.history(channel.id)).map((m) => m.text);
    t.same(await history(), ['hello from before']);

    const mod = (await api.post('/api/v1/auth/login', { username: 'moddy', password: PASSWORD })).json();
    t.equal((await api.put(`/api/v1/admin/users/${root.user.id}/suspension`, { reason: 'coup' }, mod.accessToken)).statusCode, 403, 'a moderator cannot suspend an admin');
    t.equal((await api.put(`/api/v1/admin/users/${root.user.id}/suspension`, { reason: 'oops' }, root.accessToken)).json().error.code, 'FORBIDDEN', 'nobody suspends themselves');
    const past = await api.put(`/api/v1/admin/users/${victim.user.id}/suspension`, { reason: 'x', until: new Date(Date.now() - 60_000).toISOString() }, root.accessToken);
    t.equal(past.statusCode, 400, 'an end in the past is refused');
    const blank = await api.put(`/api/v1/admin/users/${victim.user.id}/suspension`, { reason: '\u200b ' }, root.accessToken);
    t.equal(blank.json().error.code, 'VALIDATION', 'a reason of invisible characters is refused');
    const unknownUser = await api.put('/api/v1/admin/users/00000000-0000-4000-8000-000000000000/suspension', { reason: 'x' }, root.accessToken);
    t.equal(unknownUser.statusCode, 404, 'an unknown user is a 404');
    t.equal((await api.get('/api/v1/auth/me', victim.accessToken)).statusCode, 200, 'and changed nothing');

    const res = await api.put(`/api/v1/admin/users/${victim.user.id}/suspension`, { reason: 'Harassment in chat', hideContent: true }, mod.accessToken);
    t.equal(res.statusCode, 200, 'a moderator suspends an ordinary user');
    t.equal(res.json().suspension.reason, 'Harassment in chat');

    const meNow = await api.get('/api/v1/auth/me', victim.accessToken);
    t.equal(meNow.statusCode, 403, 'the access token issued before is refused at once, not when it expires');
    t.equal(meNow.json().error.code, 'ACCOUNT_SUSPENDED');
    const stamp = await db.selectFrom('users').select('tokens_not_before').where('id', '=', victim.user.id).executeTakeFirstOrThrow();
    t.ok(stamp.tokens_not_before, 'tokens_not_before is set, so old tokens stay refused after a lift too');
    t.equal((await api.post('/api/v1/auth/refresh', { refreshToken: other.refreshToken })).statusCode, 401, 'refresh tokens are revoked');
    const login = await api.post('/api/v1/auth/login', { username: 'suspendee', password: PASSWORD });
    t.equal(login.statusCode, 403);
    t.match(login.json().error.message, /Harassment in chat/, 'sign-in says why');
    const wrongPw = await api.post('/api/v1/auth/login', { username: 'suspendee', password: 'not the password' });
    t.equal(wrongPw.json().error.code, 'INVALID_CREDENTIALS', 'a guesser learns nothing about the suspension');
    t.equal(await server.accounts.streamRefusal(victim.user.id), 'suspended', 'the stream key is refused');
    t.equal((await api.get('/api/v1/channels/suspendee')).json().suspended, true, 'the channel says it is suspended');
    t.same(await history(), [], 'chat messages are hidden');
    const audit = (await api.get('/api/v1/admin/audit', root.accessToken)).json().entries;
    t.ok(audit.some((e: { action: string; actor: string; targetUser: string }) => e.action === 'suspend' && e.actor === 'moddy' && e.targetUser === 'suspendee'), 'audited');

    const lifted = await api.del(`/api/v1/admin/users/${victim.user.id}/suspension`, root.accessToken);
    t.equal(lifted.statusCode, 200);
    t.equal(lifted.json().suspension, null);
    t.equal((await api.get('/api/v1/auth/me', victim.accessToken)).json().error.code, 'TOKEN_INVALID', 'tokens from before the suspension stay dead');
    const back = await api.post('/api/v1/auth/login', { username: 'suspendee', password: PASSWORD });
    t.equal(back.statusCode, 200, 'sign-in works again');
    t.equal(await server.accounts.streamRefusal(victim.user.id), null, 'and streaming');
    t.equal((await api.get('/api/v1/channels/suspendee')).json().suspended, false);
    t.same(await history(), ['hello from before'], 'hidden messages are shown again');
  });

  t.test('a suspension with an end is lifted by itself', async (t) => {
    const temp = await registerUser(server, 'tempban');
    const res = await api.put(`/api/v1/admin/users/${temp.user.id}/suspension`, { reason: 'cool off', until: new Date(Date.now() + 3_600_000).toISOString() }, root.accessToken);
    t.match(res.json().suspension, { reason: 'cool off' });
    t.equal((await api.post('/api/v1/auth/login', { username: 'tempban', password: PASSWORD })).statusCode, 403);
    // An hour is long for a test: move the end into the past, as time would.
    await db.updateTable('users').set({ suspended_until: new Date(Date.now() - 1000) }).where('id', '=', temp.user.id).execute();
    t.equal((await api.post('/api/v1/auth/login', { username: 'tempban', password: PASSWORD })).statusCode, 200, 'past its end, sign-in works at once');
    t.equal(await server.accountAdmin.liftExpired(), 1, 'and the sweep records the lift');
    const row = await db.selectFrom('users').select('suspended_at').where('id', '=', temp.user.id).executeTakeFirstOrThrow();
    t.equal(row.suspended_at, null);
  });
});

t.test('ADMIN_USERNAME names the admin instead of the first account', async (t) => {
  const server = await startTestServer(t, { ADMIN_USERNAME: 'Boss' });
  const first = await registerUser(server, 'early_bird');
  t.equal(first.user.username, 'early_bird');
  t.equal((await server.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${first.accessToken}` } })).json().role, 'user');
  const boss = await registerUser(server, 'boss');
  t.equal((await server.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${boss.accessToken}` } })).json().role, 'admin');
});

t.test('sign-ups racing on an empty instance make exactly one admin', async (t) => {
  const server = await startTestServer(t);
  // Widen the race: every insert into users waits 300 ms, so the sign-ups overlap for sure.
  await sql`create function slow_insert() returns trigger language plpgsql as $$ begin perform pg_sleep(0.3); return new; end $$`.execute(server.database.db);
  await sql`create trigger slow_users before insert on users for each row execute function slow_insert()`.execute(server.database.db);
  const sessions = await Promise.all(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((name) => registerUser(server, `racer_${name}`)));
  t.equal(sessions.length, 6);
  const admins = await server.database.db.selectFrom('users').select('username').where('role', '=', 'admin').execute();
  t.equal(admins.length, 1, 'one admin, whichever came first');
});
