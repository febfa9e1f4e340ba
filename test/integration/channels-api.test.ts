import t from 'tap';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

t.test('channels and stream keys', async (t) => {
  const server = await startTestServer(t);
  const { app, channels } = server;
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  t.test('the owner sees the stream key and the OBS server URL', async (t) => {
    const res = await app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { ...as(alice.accessToken), host: 'live.example.test:8080' } });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['cache-control'], 'no-store');
    const { streamKey, server: rtmp } = res.json();
    t.match(streamKey, /^[A-Za-z0-9_-]{20,}$/, 'only characters OBS and RTMP paths accept');
    t.match(rtmp, /^rtmp:\/\/live\.example\.test(:\d+)?\/live$/, 'OBS server URL uses the host the owner reached us by');
    const again = await app.inject({ url: '/api/v1/channels/alice/stream-key', headers: as(alice.accessToken) });
    t.equal(again.json().streamKey, streamKey, 'shown again on request, unchanged');
    const verified = await channels.verifyStreamKey(streamKey);
    t.equal(verified?.slug, 'alice', 'verifyStreamKey finds the channel');
    const row = await server.database.db.selectFrom('channels').selectAll().where('slug', '=', 'alice').executeTakeFirstOrThrow();
    t.notOk(JSON.stringify(row).includes(streamKey), 'the database row does not contain the key in clear');
    t.notOk(server.logs().includes(streamKey), 'the key never reaches the log');
  });

  t.test('only the owner sees or rotates the key', async (t) => {
    for (const [method, url] of [['GET', '/api/v1/channels/alice/stream-key'], ['POST', '/api/v1/channels/alice/stream-key']] as const) {
      const other = await app.inject({ method, url, headers: as(bob.accessToken) });
      t.equal(other.statusCode, 403, `${method} by another user`);
      t.equal(other.json().error.code, 'FORBIDDEN');
      const anon = await app.inject({ method, url });
      t.equal(anon.statusCode, 401, `${method} anonymously`);
    }
    t.equal((await app.inject({ url: '/api/v1/channels/nobody/stream-key', headers: as(bob.accessToken) })).statusCode, 404);
  });

  t.test('rotation: the old key stops working at once', async (t) => {
    const old = (await app.inject({ url: '/api/v1/channels/alice/stream-key', headers: as(alice.accessToken) })).json().streamKey;
    const rotatedFor: string[] = [];
    const off = channels.onStreamKeyRotated((c) => rotatedFor.push(c.slug));
    const res = await app.inject({ method: 'POST', url: '/api/v1/channels/alice/stream-key', headers: as(alice.accessToken) });
    off();
    t.equal(res.statusCode, 200);
    const fresh = res.json().streamKey;
    t.not(fresh, old);
    t.equal(await channels.verifyStreamKey(old), null, 'old key refused');
    t.equal((await channels.verifyStreamKey(fresh))?.slug, 'alice', 'new key accepted');
    t.same(rotatedFor, ['alice'], 'listeners (the live pipeline) hear of the rotation');
    const shown = (await app.inject({ url: '/api/v1/channels/alice/stream-key', headers: as(alice.accessToken) })).json().streamKey;
    t.equal(shown, fresh);
  });

  t.test('verifyStreamKey refuses malformed and unknown keys', async (t) => {
    for (const key of ['', 'live_', 'x'.repeat(48), '../../etc/passwd', 'live_' + 'A'.repeat(43), "live_' OR 1=1 --"]) {
      t.equal(await channels.verifyStreamKey(key), null, JSON.stringify(key.slice(0, 20)));
    }
  });

  t.test('the owner edits title and description; others cannot', async (t) => {
    const res = await app.inject({ method: 'PATCH', url: '/api/v1/channels/alice', headers: as(alice.accessToken), payload: { title: '  Speedrun \u0007night ', description: 'Line one\nLine two' } });
    t.equal(res.statusCode, 200);
    t.equal(res.json().title, 'Speedrun night', 'control characters stripped, trimmed');
    t.equal(res.json().description, 'Line one\nLine two');
    t.equal((await app.inject({ url: '/api/v1/channels/alice' })).json().title, 'Speedrun night');
    const sneaky = await app.inject({
      method: 'PATCH',
      url: '/api/v1/channels/alice',
      headers: as(alice.accessToken),
      payload: { title: 'Speedrun\n\u202Enight\u200B\u061C', description: 'Line one\r\nLine two\u2028Line three\u200B\u202E' },
    });
    t.equal(sneaky.json().title, 'Speedrun night', 'a title is one line, without bidi controls or invisible characters');
    t.equal(sneaky.json().description, 'Line one\nLine two\nLine three', 'a description keeps its line breaks, as \\n, and drops the same characters');
    await app.inject({ method: 'PATCH', url: '/api/v1/channels/alice', headers: as(alice.accessToken), payload: { title: 'Speedrun night', description: 'Line one\nLine two' } });
    const other = await app.inject({ method: 'PATCH', url: '/api/v1/channels/alice', headers: as(bob.accessToken), payload: { title: 'pwned' } });
    t.equal(other.statusCode, 403);
    const long = await app.inject({ method: 'PATCH', url: '/api/v1/channels/alice', headers: as(alice.accessToken), payload: { title: 'x'.repeat(141) } });
    t.equal(long.statusCode, 400);
    const empty = await app.inject({ method: 'PATCH', url: '/api/v1/channels/alice', headers: as(alice.accessToken), payload: {} });
    t.equal(empty.statusCode, 400);
    const bad = await app.inject({ url: '/api/v1/channels/bad%20slug' });
    t.equal(bad.statusCode, 400);
    t.equal((await app.inject({ url: '/api/v1/channels/alice' })).json().title, 'Speedrun night', 'refused edits changed nothing');
  });
});
