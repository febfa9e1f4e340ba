// Password change, reset by an emailed link and email verification, against real PostgreSQL and
// Redis and a real SMTP server that receives the mail.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import t from 'tap';
import { until } from '../helpers/media.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { freePort } from '../helpers/services.ts';
import { startSmtp, tokenFromMail } from '../helpers/smtp.ts';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a new and better passphrase';

t.test('passwords and verification over real SMTP', async (t) => {
  const smtp = await startSmtp(t);
  const server = await startTestServer(t, { SMTP_URL: smtp.url, PUBLIC_URL: 'http://spillway.test', MAIL_FROM: 'Spillway <no-reply@spillway.test>' });
  const { app } = server;
  let ip = 0;
  const post = (url: string, payload: unknown, token?: string) =>
    app.inject({ method: 'POST', url, payload: payload as object, remoteAddress: `198.51.100.${++ip % 250}`, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
  const hashOf = async (username: string) => (await server.database.db.selectFrom('users').select('password_hash').where('username', '=', username).executeTakeFirstOrThrow()).password_hash;
  const login = (username: string, password: string) => post('/api/v1/auth/login', { username, password });

  t.test('a new account verifies its email before it may stream; watching and chat need nothing', async (t) => {
    const first = await registerUser(server, 'first'); // the instance's admin
    const mail0 = await smtp.nextMail('first@example.test');
    t.ok(first.accessToken);
    t.match(mail0.subject, /Confirm your email/);
    const session = await registerUser(server, 'vera');
    t.equal((await me(session.accessToken)).json().emailVerified, false, 'unverified at first');
    t.equal(await server.accounts.streamRefusal(session.user.id), 'unverified', 'the stream key check refuses an unverified owner');
    const mail = await smtp.nextMail('vera@example.test');
    t.equal(mail.from, 'no-reply@spillway.test');
    t.match(mail.text, /http:\/\/spillway\.test\/verify-email#token=/, 'the link points at PUBLIC_URL, never at a Host header');
    const token = tokenFromMail(mail, '/verify-email');
    const stored = await server.database.db.selectFrom('account_tokens').select('token_hash').where('user_id', '=', session.user.id).executeTakeFirstOrThrow();
    t.equal(stored.token_hash, createHash('sha256').update(token).digest('hex'), 'only the SHA-256 of the token is stored');
    t.equal((await post('/api/v1/auth/verify-email', { token })).statusCode, 204);
    t.equal((await me(session.accessToken)).json().emailVerified, true);
    t.equal(await server.accounts.streamRefusal(session.user.id), null, 'verified: may stream');
    const again = await post('/api/v1/auth/verify-email', { token });
    t.equal(again.statusCode, 400);
    t.equal(again.json().error.code, 'LINK_INVALID', 'the link works once');
    t.notOk(server.logs().includes(token), 'the token never reaches the log when mail goes over SMTP');
  });

  t.test('changing the password needs the current one and signs out every other session', async (t) => {
    const a = await registerUser(server, 'carla');
    const other = (await login('carla', PASSWORD)).json();
    const before = await hashOf('carla');
    const wrong = await post('/api/v1/auth/password', { currentPassword: 'not my password', newPassword: NEW_PASSWORD }, a.accessToken);
    t.equal(wrong.statusCode, 403);
    t.equal(wrong.json().error.code, 'WRONG_PASSWORD');
    t.equal(await hashOf('carla'), before, 'a wrong current password changes nothing');
    t.equal((await me(other.accessToken)).statusCode, 200, 'and signs nobody out');
    const short = await post('/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: 'short' }, a.accessToken);
    t.equal(short.json().error.code, 'VALIDATION');

    const ok = await post('/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, a.accessToken);
    t.equal(ok.statusCode, 204);
    t.equal((await me(a.accessToken)).statusCode, 200, 'this session goes on');
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: a.refreshToken })).statusCode, 200, 'and can refresh');
    t.equal((await me(other.accessToken)).statusCode, 401, "the other session's access token is refused at once");
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: other.refreshToken })).statusCode, 401, 'and so is its refresh token');
    t.equal((await login('carla', PASSWORD)).statusCode, 401, 'the old password no longer works');
    t.equal((await login('carla', NEW_PASSWORD)).statusCode, 200, 'the new one does');
  });

  t.test('a forgotten password is reset by a single-use emailed link', async (t) => {
    const d = await registerUser(server, 'dora');
    await smtp.nextMail('dora@example.test'); // verification
    const unknown = await post('/api/v1/auth/password-reset', { email: 'nobody@example.test' });
    const known = await post('/api/v1/auth/password-reset', { email: 'DORA@example.test' });
    t.equal(unknown.statusCode, 202);
    t.equal(known.statusCode, 202);
    t.same(unknown.json(), known.json(), 'the same answer whether or not the address has an account');
    const mail = await smtp.nextMail('dora@example.test');
    t.match(mail.subject, /Reset your .* password/);
    t.notOk(smtp.received.some((m) => m.to.includes('nobody@example.test')), 'no mail to an address without an account');
    const token = tokenFromMail(mail, '/reset-password');

    const bad = await post('/api/v1/auth/password-reset/confirm', { token: 'x'.repeat(43), newPassword: NEW_PASSWORD });
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().error.code, 'LINK_INVALID');
    const before = await hashOf('dora');
    const done = await post('/api/v1/auth/password-reset/confirm', { token, newPassword: NEW_PASSWORD });
    t.equal(done.statusCode, 204);
    t.not(await hashOf('dora'), before);
    t.equal((await me(d.accessToken)).statusCode, 401, 'every old session is signed out');
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: d.refreshToken })).statusCode, 401);
    t.equal((await login('dora', NEW_PASSWORD)).statusCode, 200, 'the new password works');

    const twice = await post('/api/v1/auth/password-reset/confirm', { token, newPassword: 'yet another passphrase' });
    t.equal(twice.statusCode, 400, 'a link used twice is refused');
    t.equal(twice.json().error.code, 'LINK_INVALID');
    t.equal((await login('dora', NEW_PASSWORD)).statusCode, 200, 'and changed nothing');
  });

  t.test('a late reset link is refused and changes nothing', async (t) => {
    await registerUser(server, 'emil');
    await smtp.nextMail('emil@example.test');
    await post('/api/v1/auth/password-reset', { email: 'emil@example.test' });
    const token = tokenFromMail(await smtp.nextMail('emil@example.test'), '/reset-password');
    const row = await server.database.db.selectFrom('account_tokens').select(['id', 'created_at', 'expires_at']).where('token_hash', '=', createHash('sha256').update(token).digest('hex')).executeTakeFirstOrThrow();
    // created_at is the database's clock, expires_at the server's: equal within a few seconds.
    t.ok(Math.abs(row.expires_at.getTime() - row.created_at.getTime() - 30 * 60 * 1000) < 5000, 'a reset link lives 30 minutes');
    await server.database.db.updateTable('account_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', row.id).execute();
    const before = await hashOf('emil');
    const late = await post('/api/v1/auth/password-reset/confirm', { token, newPassword: NEW_PASSWORD });
    t.equal(late.statusCode, 400);
    t.equal(late.json().error.code, 'LINK_INVALID');
    t.equal(await hashOf('emil'), before);
    t.equal((await login('emil', PASSWORD)).statusCode, 200, 'the old password still works');
  });

  t.test('reset requests are limited per address and per IP', async (t) => {
    await registerUser(server, 'fred');
    const sameIp = (payload: unknown) => app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: payload as object, remoteAddress: '203.0.113.7' });
    const byAddress = [];
    for (let i = 0; i < 4; i++) byAddress.push((await post('/api/v1/auth/password-reset', { email: 'fred@example.test' })).statusCode);
    t.same(byAddress, [202, 202, 202, 429], 'three mails an hour to one address, whoever asks');
    const byIp = [];
    for (let i = 0; i < 21; i++) byIp.push((await sameIp({ email: `someone${i}@example.test` })).statusCode);
    t.equal(byIp.filter((s) => s === 202).length, 20);
    t.equal(byIp.at(-1), 429, 'twenty an hour from one IP');
  });
});

t.test('without SMTP, mail is written under DATA_DIR/mail and its link logged; accounts count as verified', async (t) => {
  const server = await startTestServer(t);
  const session = await registerUser(server, 'gina');
  t.equal(session.user.username, 'gina');
  t.equal(await server.accounts.streamRefusal(session.user.id), null, 'no verification asked for without SMTP');
  const res = await server.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: 'gina@example.test' }, headers: { host: 'localhost:8080' } });
  t.equal(res.statusCode, 202);
  const dir = path.join(server.dataDir, 'mail');
  const files = await until(async () => {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml'));
    return names.length > 0 ? names : null;
  }, 'a mail file');
  const eml = await simpleParser(await readFile(path.join(dir, files[0]!)));
  t.same(eml.to && !Array.isArray(eml.to) ? eml.to.value.map((a) => a.address) : [], ['gina@example.test']);
  const link = /http:\/\/localhost:8080\/reset-password#token=[A-Za-z0-9_-]+/.exec(eml.text ?? '')?.[0];
  t.ok(link, 'the file holds the reset link');
  await until(() => server.logs().includes(link!), 'the link in the log, for the person who runs this machine');
  const token = link!.split('#token=')[1]!;
  t.equal((await server.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, newPassword: NEW_PASSWORD } })).statusCode, 204);
});

t.test('mail asked for while the mail server is away arrives once it is back (a retried job)', async (t) => {
  const port = await freePort();
  const server = await startTestServer(t, { SMTP_URL: `smtp://127.0.0.1:${port}`, PUBLIC_URL: 'http://spillway.test' });
  await registerUser(server, 'hana');
  const res = await server.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: 'hana@example.test' } });
  t.equal(res.statusCode, 202, 'the answer does not wait for the mail server');
  await until(() => server.logs().split('\n').some((line) => line.includes('"queue":"account-mail"') && line.includes('job failed')), 'a failed delivery attempt', 20_000);
  const smtp = await startSmtp(t, port);
  const mails = [await smtp.nextMail('hana@example.test', 60_000), await smtp.nextMail('hana@example.test', 60_000)];
  t.same(mails.map((m) => m.subject.split(' ')[0]).sort(), ['Confirm', 'Reset'], 'both the verification and the reset mail arrive');
  const token = tokenFromMail(mails.find((m) => m.subject.startsWith('Reset'))!, '/reset-password');
  t.equal((await server.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, newPassword: NEW_PASSWORD } })).statusCode, 204, 'and its link works');
});
