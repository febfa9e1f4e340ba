// Uploads are refused before any byte is stored when they break a limit (size, the channel's
// storage quota, uploads in progress, a missing length, bad metadata), each with the API's JSON
// error and a stable code, and nothing changes on refusal. Uploads are only the owner's to see or
// touch; a terminated upload and an expired one leave nothing behind.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tusUpload } from '../helpers/uploads.ts';

const MiB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');

t.test('limits, ownership, termination and expiry', async (t) => {
  const server = await startTestServer(t, { UPLOAD_MAX_MB: '3', CHANNEL_STORAGE_LIMIT_MB: '4', UPLOADS_PER_USER: '2', WORKER: 'external' });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const vodCount = async () => Number((await server.database.db.selectFrom('vods').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const create = (token: string | null, headers: Record<string, string>) =>
    fetch(`${base}/api/v1/uploads`, {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-metadata': `filename ${b64('a.mp4')}`, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
  const refused = async (res: Response, status: number, code: string, what: string) => {
    t.equal(res.status, status, `${what}: ${status}`);
    const body = (await res.json()) as { error: { code: string; message: string } };
    t.equal(body.error.code, code, `${what}: ${code} (“${body.error.message}”)`);
    t.equal(await vodCount(), created, `${what}: nothing created`);
  };
  let created = 0;

  await refused(await create(null, { 'upload-length': String(MiB) }), 401, 'UNAUTHENTICATED', 'no token');
  await refused(await create(alice.accessToken, { 'upload-length': String(5 * MiB) }), 413, 'UPLOAD_TOO_LARGE', 'over UPLOAD_MAX_MB');
  await refused(await create(alice.accessToken, { 'upload-defer-length': '1' }), 411, 'UPLOAD_LENGTH_REQUIRED', 'deferred length');
  await refused(await create(alice.accessToken, { 'upload-length': String(MiB), 'upload-metadata': `filename ${b64('a.mp4')},visibility ${b64('everyone')}` }), 400, 'VALIDATION', 'bad visibility');

  const ok = await create(alice.accessToken, { 'upload-length': String(3 * MiB), origin: 'https://elsewhere.example' });
  t.equal(ok.status, 201, 'a 3 MiB upload is created');
  created++;
  const firstUrl = ok.headers.get('location')!;
  t.match(firstUrl, /^\/api\/v1\/uploads\/[0-9a-f]{32}$/);
  t.match(ok.headers.get('spillway-vod-id'), /^[0-9a-f-]{36}$/, 'the response names the VOD');
  t.equal(ok.headers.get('access-control-allow-origin'), null, 'no CORS grant without an allowed origin');
  const expires = Date.parse(ok.headers.get('upload-expires') ?? '');
  t.ok(Math.abs(expires - (Date.now() + 24 * 3600_000)) < 120_000, 'Upload-Expires: UPLOAD_EXPIRY_H (24 h) from now');
  await refused(await create(alice.accessToken, { 'upload-length': String(2 * MiB) }), 403, 'STORAGE_QUOTA_EXCEEDED', '3 + 2 MiB over a 4 MiB quota');
  t.equal((await create(alice.accessToken, { 'upload-length': String(MiB) })).status, 201, '3 + 1 MiB fits');
  created++;
  await refused(await create(alice.accessToken, { 'upload-length': '10' }), 429, 'TOO_MANY_UPLOADS', 'a third upload in progress');

  // Someone else's upload does not exist for bob; alice's own answers.
  const upload = `${base}${firstUrl}`;
  for (const method of ['HEAD', 'PATCH', 'DELETE']) {
    const res = await fetch(upload, { method, headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${bob.accessToken}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: method === 'PATCH' ? 'x' : undefined });
    t.equal(res.status, 404, `bob's ${method} of alice's upload: 404`);
  }
  const mine = await fetch(upload, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${alice.accessToken}` } });
  t.equal(mine.headers.get('upload-offset'), '0');

  // A PATCH past the declared length is refused by tus itself.
  const tooMuch = await fetch(upload, { method: 'PATCH', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${alice.accessToken}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: Buffer.alloc(3 * MiB + 1) });
  t.equal(tooMuch.status, 413, 'more bytes than Upload-Length: 413');

  // Terminating an unfinished upload removes its VOD too.
  const terminated = await fetch(upload, { method: 'DELETE', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${alice.accessToken}` } });
  t.equal(terminated.status, 204);
  const vodId = ok.headers.get('spillway-vod-id')!;
  const gone = await fetch(`${base}/api/v1/vods/${vodId}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
  t.equal(gone.status, 404, 'the terminated upload\'s VOD is gone');

  // An upload left half-way expires: its bytes and its VOD are removed.
  const half = await tusUpload({ base, token: bob.accessToken, file: Buffer.alloc(2 * MiB, 7), chunkSize: MiB, stopAfterChunks: 1, metadata: { filename: 'half.mp4' } });
  const tusDir = path.join(server.dataDir, 'tus', 'uploads');
  t.ok((await readdir(tusDir)).some((f) => half.url.endsWith(f)), 'the half upload is on disk');
  t.equal(await server.recording.uploads!.expireStale(), 0, 'nothing is due yet');
  await server.database.db.updateTable('vods').set({ upload_expires_at: new Date(Date.now() - 1000) }).where('id', '=', half.vodId).execute();
  t.equal(await server.recording.uploads!.expireStale(), 1, 'one expired upload removed');
  t.notOk((await readdir(tusDir)).some((f) => f.startsWith(half.url.split('/').pop()!)), 'its bytes and tus metadata are gone');
  const head = await fetch(`${base}${new URL(half.url, base).pathname}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${bob.accessToken}` } });
  t.equal(head.status, 404, 'HEAD of an expired upload: 404');
  t.equal((await fetch(`${base}/api/v1/vods/${half.vodId}`, { headers: { authorization: `Bearer ${bob.accessToken}` } })).status, 404, 'its VOD is gone');
});
