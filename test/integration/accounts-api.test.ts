import t from 'tap';
import { SignJWT } from 'jose';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

const PASSWORD = 'correct horse battery';

t.test('accounts API', async (t) => {
  const server = await startTestServer(t, { LOGIN_RATE_LIMIT: '5', LOGIN_RATE_WINDOW_S: '60' });
  const { app } = server;
  // Each call from its own address, so only the test about per-IP limits meets them.
  let ip = 0;
  const post = (url: string, payload: unknown) =>
    app.inject({ method: 'POST', url, payload: payload as object, remoteAddress: `192.0.2.${++ip % 250}` });
  const countUsers = async () => Number((await server.database.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  t.test('register returns a session and creates the channel', async (t) => {
    const res = await post('/api/v1/auth/register', { username: 'Alice', email: 'alice@example.test', password: PASSWORD });
    t.equal(res.statusCode, 201);
    const body = res.json();
    t.equal(body.user.username, 'Alice');
    t.equal(body.tokenType, 'Bearer');
    t.equal(body.expiresIn, 900);
    t.ok(body.refreshToken.length >= 40);
    const me = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${body.accessToken}` } });
    t.equal(me.statusCode, 200);
    t.equal(me.json().username, 'Alice');
    const channel = await app.inject({ url: '/api/v1/channels/alice' });
    t.equal(channel.statusCode, 200, 'the channel is found by its slug in any case');
    t.equal(channel.json().slug, 'Alice');
    const stored = await server.database.db.selectFrom('users').select('password_hash').where('username', '=', 'Alice').executeTakeFirstOrThrow();
    t.match(stored.password_hash, /^\$argon2id\$/, 'password stored as an argon2id hash');
    t.notOk(server.logs().includes(PASSWORD), 'the password never reaches the log');
  });

  t.test('bad registrations are refused with stable codes and change nothing', async (t) => {
    const before = await countUsers();
    const cases: Array<[string, unknown, number, string]> = [
      ['duplicate username in other case', { username: 'ALICE', email: 'other@example.test', password: PASSWORD }, 409, 'USERNAME_TAKEN'],
      ['duplicate email in other case', { username: 'alice2', email: 'ALICE@example.test', password: PASSWORD }, 409, 'EMAIL_TAKEN'],
      ['reserved username', { username: 'admin', email: 'a@example.test', password: PASSWORD }, 409, 'USERNAME_TAKEN'],
      ['username with a space', { username: 'bad name', email: 'b@example.test', password: PASSWORD }, 400, 'VALIDATION'],
      ['over-long username', { username: 'x'.repeat(26), email: 'b@example.test', password: PASSWORD }, 400, 'VALIDATION'],
      ['bad email', { username: 'bob', email: 'not-an-email', password: PASSWORD }, 400, 'VALIDATION'],
      ['short password', { username: 'bob', email: 'bob@example.test', password: 'short' }, 400, 'VALIDATION'],
      ['over-long password', { username: 'bob', email: 'bob@example.test', password: 'p'.repeat(257) }, 400, 'VALIDATION'],
      ['wrong type', { username: 12345, email: 'bob@example.test', password: PASSWORD }, 400, 'VALIDATION'],
      ['unknown field', { username: 'bob', email: 'bob@example.test', password: PASSWORD, admin: true }, 400, 'VALIDATION'],
      ['missing field', { username: 'bob', password: PASSWORD }, 400, 'VALIDATION'],
    ];
    for (const [name, payload, status, code] of cases) {
      const res = await post('/api/v1/auth/register', payload);
      t.equal(res.statusCode, status, `${name}: status`);
      t.equal(res.json().error?.code, code, `${name}: code`);
      t.type(res.json().error?.message, 'string', `${name}: message`);
    }
    const malformed = await app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: { 'content-type': 'application/json' }, payload: '{"username": "bob",' });
    t.equal(malformed.statusCode, 400);
    t.equal(malformed.json().error.code, 'INVALID_JSON');
    const huge = await app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'bob', email: 'bob@example.test', password: PASSWORD, pad: 'x'.repeat(20_000) }) });
    t.equal(huge.statusCode, 413);
    t.equal(huge.json().error.code, 'PAYLOAD_TOO_LARGE');
    const text = await app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    t.equal(text.statusCode, 415);
    t.equal(text.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
    t.equal(await countUsers(), before, 'no user was created by any bad request');
  });

  t.test('login, refresh rotation and family revocation', async (t) => {
    await registerUser(server, 'carol');
    const wrong = await post('/api/v1/auth/login', { username: 'carol', password: 'wrong password' });
    t.equal(wrong.statusCode, 401);
    t.equal(wrong.json().error.code, 'INVALID_CREDENTIALS');
    const unknown = await post('/api/v1/auth/login', { username: 'nobody', password: PASSWORD });
    t.equal(unknown.json().error.code, 'INVALID_CREDENTIALS', 'unknown user looks like a wrong password');

    const login = await post('/api/v1/auth/login', { username: 'CAROL', password: PASSWORD });
    t.equal(login.statusCode, 200, 'login ignores username case');
    const first = login.json().refreshToken as string;

    const r1 = await post('/api/v1/auth/refresh', { refreshToken: first });
    t.equal(r1.statusCode, 200);
    const second = r1.json().refreshToken as string;
    t.not(second, first, 'refresh rotates the token');

    const reuse = await post('/api/v1/auth/refresh', { refreshToken: first });
    t.equal(reuse.statusCode, 401);
    t.equal(reuse.json().error.code, 'REFRESH_REUSED');
    const afterReuse = await post('/api/v1/auth/refresh', { refreshToken: second });
    t.equal(afterReuse.statusCode, 401, 'the newest token of the family is revoked too');
    t.equal(afterReuse.json().error.code, 'REFRESH_INVALID');

    const other = await post('/api/v1/auth/login', { username: 'carol', password: PASSWORD });
    const otherToken = other.json().refreshToken as string;
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: otherToken })).statusCode, 200, 'another login (family) is unaffected');

    const garbage = await post('/api/v1/auth/refresh', { refreshToken: 'not-a-token' });
    t.equal(garbage.json().error.code, 'REFRESH_INVALID');

    const l2 = await post('/api/v1/auth/login', { username: 'carol', password: PASSWORD });
    const out = await post('/api/v1/auth/logout', { refreshToken: l2.json().refreshToken });
    t.equal(out.statusCode, 204);
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: l2.json().refreshToken })).statusCode, 401, 'logged-out token no longer refreshes');
    const stored = await server.database.db.selectFrom('refresh_tokens').select('token_hash').execute();
    t.notOk(stored.some((r) => r.token_hash === first), 'refresh tokens are stored hashed');
  });

  t.test('two concurrent refreshes with one token: one wins, the family is revoked', async (t) => {
    await registerUser(server, 'dave');
    const token = (await post('/api/v1/auth/login', { username: 'dave', password: PASSWORD })).json().refreshToken;
    const [a, b] = await Promise.all([post('/api/v1/auth/refresh', { refreshToken: token }), post('/api/v1/auth/refresh', { refreshToken: token })]);
    t.same([a.statusCode, b.statusCode].sort(), [200, 401]);
  });

  t.test('signing out revokes that session\'s access tokens at once; sign-out everywhere revokes them all', async (t) => {
    const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    const grace = await registerUser(server, 'grace');
    const laptop = (await post('/api/v1/auth/login', { username: 'grace', password: PASSWORD })).json();
    const phone = (await post('/api/v1/auth/login', { username: 'grace', password: PASSWORD })).json();
    t.equal((await me(grace.accessToken)).statusCode, 200);

    t.equal((await post('/api/v1/auth/logout', { refreshToken: grace.refreshToken })).statusCode, 204);
    const out = await me(grace.accessToken);
    t.equal(out.statusCode, 401, 'the signed-out session\'s access token is refused at once, not 15 minutes later');
    t.equal(out.json().error.code, 'TOKEN_INVALID');
    t.equal((await me(laptop.accessToken)).statusCode, 200, 'another device stays signed in after a single sign-out');

    const rotated = (await post('/api/v1/auth/refresh', { refreshToken: laptop.refreshToken })).json();
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: laptop.refreshToken })).statusCode, 401, 'a reused refresh token');
    t.equal((await me(rotated.accessToken)).statusCode, 401, 'revokes its family, and the access tokens it issued');
    t.equal((await me(laptop.accessToken)).statusCode, 401);
    t.equal((await me(phone.accessToken)).statusCode, 200, 'other families live on');

    const tablet = (await post('/api/v1/auth/login', { username: 'grace', password: PASSWORD })).json();
    const all = await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: { authorization: `Bearer ${phone.accessToken}` } });
    t.equal(all.statusCode, 204);
    for (const [name, session] of [['phone', phone], ['tablet', tablet]] as const) {
      t.equal((await me(session.accessToken)).statusCode, 401, `sign-out everywhere refuses the ${name}'s access token`);
      t.equal((await post('/api/v1/auth/refresh', { refreshToken: session.refreshToken })).statusCode, 401, `and its refresh token`);
    }
    const again = (await post('/api/v1/auth/login', { username: 'grace', password: PASSWORD })).json();
    t.equal((await me(again.accessToken)).statusCode, 200, 'signing in again right after works');
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all' })).statusCode, 401, 'sign-out everywhere needs a token');
  });

  t.test('bad, expired and orphaned access tokens', async (t) => {
    const me = (auth?: string) => app.inject({ url: '/api/v1/auth/me', headers: auth ? { authorization: auth } : {} });
    t.equal((await me()).json().error.code, 'UNAUTHENTICATED');
    t.equal((await me('Bearer garbage')).json().error.code, 'TOKEN_INVALID');
    t.equal((await me('Basic abc')).json().error.code, 'TOKEN_INVALID');
    const forged = await new SignJWT({ typ: 'access' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer('spillway').setExpirationTime('5m').sign(Buffer.alloc(32, 7));
    t.equal((await me(`Bearer ${forged}`)).json().error.code, 'TOKEN_INVALID', 'a token signed with another key is refused');

    const { readFile } = await import('node:fs/promises');
    const { deriveKeys } = await import('../../src/secrets.ts');
    const secret = Buffer.from((await readFile(`${server.dataDir}/secret.key`, 'utf8')).trim(), 'hex');
    const erin = await registerUser(server, 'erin');
    const expired = await new SignJWT({ typ: 'access' }).setProtectedHeader({ alg: 'HS256' }).setSubject(erin.user.id).setIssuer('spillway').setIssuedAt(1_000).setExpirationTime(2_000).sign(deriveKeys(secret).jwt);
    const res = await me(`Bearer ${expired}`);
    t.equal(res.statusCode, 401);
    t.equal(res.json().error.code, 'TOKEN_EXPIRED');

    const del = await app.inject({ method: 'DELETE', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${erin.accessToken}` }, payload: { password: PASSWORD } });
    t.equal(del.statusCode, 204);
    const orphan = await me(`Bearer ${erin.accessToken}`);
    t.equal(orphan.statusCode, 401, "a deleted user's token is refused");
    t.equal(orphan.json().error.code, 'TOKEN_INVALID');
    t.equal((await post('/api/v1/auth/refresh', { refreshToken: erin.refreshToken })).statusCode, 401, "a deleted user's refresh token is refused");
    t.equal((await app.inject({ url: '/api/v1/channels/erin' })).statusCode, 404, 'the channel went with the account');
  });

  t.test('login is rate-limited per account and per IP', async (t) => {
    await registerUser(server, 'frank');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post('/api/v1/auth/login', { username: 'frank', password: 'wrong password' })).statusCode);
    t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    const limited = await post('/api/v1/auth/login', { username: 'frank', password: PASSWORD });
    t.equal(limited.statusCode, 429, 'even the right password waits once the account is limited');
    t.equal(limited.json().error.code, 'RATE_LIMITED');
    t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After tells when to try again');

    const fromIp = (ip: string, username: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'wrong password' }, remoteAddress: ip });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await fromIp('10.9.8.7', `user${i}`)).statusCode);
    t.equal(codes[5], 429, 'many accounts from one IP are limited too');
    t.equal((await fromIp('10.9.8.8', 'user0')).statusCode, 401, 'another IP is not affected');
  });

  t.test('unknown routes and the error shape', async (t) => {
    const res = await app.inject({ url: '/api/v1/nothing-here' });
    t.equal(res.statusCode, 404);
    t.equal(res.json().error.code, 'ROUTE_NOT_FOUND');
  });
});
