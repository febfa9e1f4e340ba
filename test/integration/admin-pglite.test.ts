// The administration queries on the embedded database (PGlite) too: row locks, the advisory lock
// of the first sign-up, jsonb settings, strpos search, grouped storage sums.
import t from 'tap';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
t.test('suspension, settings, reports, search, storage and the last-admin rule on PGlite', async (t) => {
  const server = await startTestServer(t, { DATABASE_URL: '' });
  t.equal(server.database.kind, 'pglite');
  const a = await registerUser(server, 'first');
  const b = await registerUser(server, 'second');
  const auth = { authorization: `Bearer ${a.accessToken}` };
  const s = await server.app.inject({ method: 'PUT', url: `/api/v1/admin/users/${b.user.id}/suspension`, headers: auth, payload: { reason: 'x', hideContent: true } });
  t.equal(s.statusCode, 200, s.body);
  const p = await server.app.inject({ method: 'PATCH', url: '/api/v1/admin/settings', headers: auth, payload: { name: 'P' } });
  t.equal(p.statusCode, 200, p.body);
  const r = await server.app.inject({ method: 'POST', url: '/api/v1/reports', headers: { authorization: `Bearer ${a.accessToken}` }, payload: { targetKind: 'channel', targetId: (await server.app.inject({ url: '/api/v1/channels/second' })).json().id, reason: 'x' } });
  t.equal(r.statusCode, 201, r.body);
  const storage = await server.app.inject({ url: '/api/v1/admin/storage', headers: auth });
  t.equal(storage.statusCode, 200, storage.body);
  const users = await server.app.inject({ url: '/api/v1/admin/users?q=sec', headers: auth });
  t.equal(users.json().users.length, 1, users.body);
  const role = await server.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${a.user.id}`, headers: auth, payload: { role: 'user' } });
  t.equal(role.statusCode, 409);
  const reset = await server.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: 'second@example.test' } });
  t.equal(reset.statusCode, 202);
});
