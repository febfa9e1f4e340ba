// Issue #11: bad input is a 4xx in the catalogue's shape, never a 500 or the framework's own body.
// Each subtest pins one defect found by hand or by the fuzz suite (test/integration/http-fuzz.test.ts).
import type { InjectOptions, LightMyRequestResponse as Reply } from 'fastify';
import t from 'tap';
import type { Server } from '../../src/main.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MEDIA = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

/** A ready public VOD of `slug`'s channel with one 1000-byte segment in storage. */
async function readyVod(server: Server, slug: string): Promise<{ vodId: string; sessionId: string }> {
  const db = server.database.db;
  const channelId = (await server.channels.bySlug(slug))!.id;
  const session = await db
    .insertInto('live_sessions')
    .values({ channel_id: channelId, started_at: new Date(), ended_at: new Date(), end_reason: 'unpublished' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const prefix = `vods/${session.id}`;
  const vod = await db
    .insertInto('vods')
    .values({ live_session_id: session.id, channel_id: channelId, started_at: new Date(), storage_prefix: prefix, status: 'ready' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await server.storage.put(`${prefix}/720p/seg-1.m4s`, MEDIA);
  return { vodId: vod.id, sessionId: session.id };
}

function assertErrorShape(t: Test, res: Reply, status: number, code?: string): void {
  t.equal(res.statusCode, status, `status ${status}`);
  const body = res.json();
  t.type(body.error?.code, 'string', 'an error code');
  t.type(body.error?.message, 'string', 'an error message');
  t.same(Object.keys(body), ['error'], 'nothing beside "error"');
  if (code) t.equal(body.error.code, code);
}

t.test('chat replay: offsets too large for the database are a 400, not a 500', async (t) => {
  const server = await startTestServer(t);
  await registerUser(server, 'alice');
  const { vodId, sessionId } = await readyVod(server, 'alice');
  for (const base of [`/api/v1/vods/${vodId}/chat`, `/api/v1/live-sessions/${sessionId}/chat`]) {
    for (const name of ['from', 'to']) {
      for (const value of ['1e19', '9223372036854775807', '1e308', '1e400', '9007199254740993']) {
        const res = await server.app.inject({ url: `${base}?${name}=${value}` });
        t.equal(res.statusCode, 400, `${base.split('/')[3]} ${name}=${value}`);
        t.equal(res.json().error.code, 'VALIDATION');
      }
    }
    t.equal((await server.app.inject({ url: `${base}?from=86400000&to=90000000` })).statusCode, 200, 'a day into a stream is fine');
  }
});

for (const backend of ['local', 's3'] as const) {
  t.test(`VOD media on ${backend} storage: a huge or unsatisfiable Range is a 416 with Content-Range, never a 500`, async (t) => {
    const s3 = backend === 's3' ? await startS3Server(t) : null;
    const server = await startTestServer(
      t,
      s3 ? { S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: 'true' } : {},
    );
    await registerUser(server, 'alice');
    const { vodId } = await readyVod(server, 'alice');
    const get = (range: string) => server.app.inject({ url: `/vod/${vodId}/720p/seg-1.m4s`, headers: { range } });

    // Satisfiable (RFC 9110 §14.1.2: a last-pos past the end means "to the end").
    for (const [range, start, end] of [
      ['bytes=0-99999999999999999999', 0, 999],
      ['bytes=990-9007199254740993', 990, 999],
      ['bytes=-99999999999999999999', 0, 999],
      ['bytes=-10', 990, 999],
      ['bytes=10-19', 10, 19],
    ] as const) {
      const res = await get(range);
      t.equal(res.statusCode, 206, range);
      t.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`, `${range}: Content-Range`);
      t.same(res.rawPayload, MEDIA.subarray(start, end + 1), `${range}: the bytes asked for`);
    }
    // Unsatisfiable: a first byte at or past the end, or an empty suffix.
    for (const range of ['bytes=9007199254740993-', 'bytes=99999999999999999999-', 'bytes=1000-', 'bytes=1000-2000', 'bytes=-0']) {
      const res = await get(range);
      assertErrorShape(t, res, 416, 'RANGE_NOT_SATISFIABLE');
      t.equal(res.headers['content-range'], 'bytes */1000', `${range}: Content-Range names the size`);
    }
    // Not a ranges-specifier we serve (invalid syntax, another unit, several ranges): ignored, the whole file.
    for (const range of ['bytes=5-2', 'bytes=abc', 'items=0-5', 'bytes=0-1,4-5', 'bytes=', 'bytes=--1', 'bytes=1.5-2']) {
      const res = await get(range);
      t.equal(res.statusCode, 200, `${range}: ignored`);
      t.equal(res.rawPayload.length, 1000);
    }
  });
}

t.test("the framework's own errors use the catalogue's shape with stable codes", async (t) => {
  const server = await startTestServer(t);
  const inject = (opts: InjectOptions) => server.app.inject(opts);
  assertErrorShape(t, await inject({ url: `/api/v1/channels/${'a'.repeat(5000)}` }), 414, 'URI_TOO_LONG');
  assertErrorShape(t, await inject({ url: '/api/v1/channels/%E0%A4%A' }), 400, 'BAD_URL');
  assertErrorShape(t, await inject({ url: '/api/v1/channels/%zz/stream-key' }), 400, 'BAD_URL');
  assertErrorShape(t, await inject({ url: '/api/v1/no-such-thing' }), 404, 'ROUTE_NOT_FOUND');
  assertErrorShape(t, await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{bad' }), 400, 'INVALID_JSON');
  assertErrorShape(t, await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(20_000)}"` }), 413, 'PAYLOAD_TOO_LARGE');
  assertErrorShape(t, await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'text/xml' }, payload: '<a/>' }), 415, 'UNSUPPORTED_MEDIA_TYPE');

  // A request the HTTP parser itself refuses never reaches a route: it gets the same shape.
  const url = new URL(await server.listen());
  const { connect } = await import('node:net');
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(raw, /^HTTP\/1\.1 400 /, 'a malformed request line: 400');
  t.same(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.code, 'BAD_REQUEST', 'in the error shape');
});

t.test('a JSON body in a charset other than UTF-8 is a 415', async (t) => {
  const server = await startTestServer(t);
  await registerUser(server, 'alice');
  const login = (contentType: string) =>
    server.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': contentType }, payload: JSON.stringify({ username: 'alice', password: 'correct horse battery' }) });
  for (const contentType of ['application/json; charset=utf-16', 'application/json;charset=ISO-8859-1', 'application/json; charset="utf-32"', 'application/json; charset=']) {
    assertErrorShape(t, await login(contentType), 415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8']) {
    t.equal((await login(contentType)).statusCode, 200, `${contentType}: accepted`);
  }
});

t.test('found by the fuzz suite: a NUL in the login username is a 400, not a 500 from PostgreSQL', async (t) => {
  const server = await startTestServer(t);
  for (const username of ['\u0000ß\uD800', 'alice\u0000', '\u0007bell']) {
    const res = await server.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'wnaa]5' } });
    assertErrorShape(t, res, 400, 'VALIDATION');
  }
});
