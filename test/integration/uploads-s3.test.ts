// A creator's upload end to end on the production shape: PostgreSQL, Redis (BullMQ jobs), S3
// (s3rver). A generated 30 s 1080p video goes up with tus in 5 MiB chunks, the connection drops
// after the second chunk, the server restarts, HEAD gives the offset, the client resumes, and the
// VOD becomes ready: every rendition decodes end to end to the source's duration.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { createLogger } from '../../src/log.ts';
import { createServer } from '../../src/main.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { decodeEndToEnd, getVod, makeVideo, settledVod, tusUpload } from '../helpers/uploads.ts';

const CHUNK = 5 * 1024 * 1024;

t.test('tus upload to S3, interrupted, server restarted, resumed: a ready VOD on BullMQ', async (t) => {
  const dir = await tempDir(t, 'uploads-s3');
  const s3 = await startS3Server(t);
  const env = {
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    LADDER: '480:1000,240:300',
    X264_PRESET: 'ultrafast',
  } as const;
  const first = await startTestServer(t, env);
  t.equal(first.jobs.kind, 'bullmq', 'REDIS_URL is set: jobs run on BullMQ');
  const base1 = await first.listen();
  const user = await registerUser(first, 'uploader');
  const file = await readFile(await makeVideo(dir, { seconds: 30, width: 1920, height: 1080, kbps: 4000 }));
  t.ok(file.length > 2 * CHUNK + 1024 * 1024, `the file (${file.length} bytes) needs more than two chunks`);

  const partial = await tusUpload({ base: base1, token: user.accessToken, file, chunkSize: CHUNK, stopAfterChunks: 2, metadata: { filename: 'thirty.mp4', title: 'Thirty seconds', visibility: 'unlisted' } });
  t.match(partial.url, /\/api\/v1\/uploads\/[0-9a-f]{32}$/);
  const during = await getVod(base1, user.accessToken, partial.vodId);
  t.match(during, { source: 'upload', status: 'uploading', playbackUrl: null }, 'the VOD exists from the first request');
  t.same(await first.storage.list(`vods/${partial.vodId}/`), [], 'nothing published yet');

  // The server goes away and comes back (same database, bucket and Redis).
  await first.close();
  const chunks: string[] = [];
  const sink = { write: (s: string) => void chunks.push(s) };
  const second = await createServer(first.config, createLogger('warn', sink as never));
  t.teardown(() => second.close());
  const base = await second.listen();
  const head = await fetch(`${base}/api/v1/uploads/${partial.url.split('/').pop()}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${user.accessToken}` } });
  t.equal(head.status, 200);
  t.equal(head.headers.get('upload-offset'), String(2 * CHUNK), 'HEAD gives the offset of the two stored chunks');
  t.equal(head.headers.get('upload-length'), String(file.length));
  const anonymous = await fetch(`${base}/api/v1/uploads/${partial.url.split('/').pop()}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
  t.equal(anonymous.status, 401, 'HEAD needs the access token');

  const resumed = await tusUpload({ base, token: user.accessToken, file, chunkSize: CHUNK, uploadUrl: `${base}/api/v1/uploads/${partial.url.split('/').pop()}` });
  t.equal(resumed.vodId, partial.vodId, 'the same VOD');
  const vod = await settledVod(base, user.accessToken, partial.vodId);
  t.equal(vod.status, 'ready', `ready (${vod.failureReason ?? ''})`);
  t.equal(vod.source, 'upload');
  t.same(
    vod.renditions.map((r) => [r.name, r.width, r.height]),
    [['1080p', 1920, 1080], ['480p', 854, 480], ['240p', 426, 240]],
    'the source height on top, then the LADDER below it',
  );
  t.ok(Math.abs(vod.durationS - 30) <= 0.5, `duration ${vod.durationS} s`);

  // Unlisted: playable by URL. Every rendition decodes to the end, with sound.
  for (const r of vod.renditions) {
    const decoded = await decodeEndToEnd(`${base}/vod/${vod.id}/${r.name}/index.m3u8`);
    t.ok(Math.abs(decoded.duration - 30) <= 0.5, `${r.name}: ${decoded.duration} s decoded`);
    t.same(decoded.streams.sort(), ['aac', 'h264'], `${r.name}: H.264 and AAC`);
  }
  const master = await (await fetch(`${base}${vod.playbackUrl}`)).text();
  t.match(master, /#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,RESOLUTION=1920x1080,FRAME-RATE=30\.000,CODECS="avc1\.[0-9a-f]+,mp4a\.40\.2"/);
  const playlist = await (await fetch(`${base}/vod/${vod.id}/480p/index.m3u8`)).text();
  t.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD[\s\S]*#EXT-X-MAP:URI="init-0\.mp4"[\s\S]*seg-0\.m4s[\s\S]*#EXT-X-ENDLIST/);
  const vtt = await (await fetch(`${base}${vod.previewTrackUrl}`)).text();
  t.match(vtt, /^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\nsprite\.jpg#xywh=0,0,160,90/, 'seek-preview track');
  t.equal((await fetch(`${base}${vod.thumbnailUrl}`)).headers.get('content-type'), 'image/jpeg', 'poster');

  // Segments of every rendition start on the same frames (forced keyframes), so they line up.
  const durations = async (name: string) => [...(await (await fetch(`${base}/vod/${vod.id}/${name}/index.m3u8`)).text()).matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]).toFixed(2));
  t.same(await durations('240p'), await durations('1080p'), 'renditions are cut at the same keyframes');

  // The source is gone; only the VOD's own objects remain.
  t.same(await second.storage.list('uploads/'), [], 'the uploaded file and its tus metadata were removed');
  const keys = (await second.storage.list(`vods/${vod.id}/`)).map((o) => o.key.slice(`vods/${vod.id}/`.length));
  t.ok(keys.includes('master.m3u8') && keys.includes('poster.jpg') && keys.includes('sprite.jpg') && keys.includes('thumbnails.vtt'));

  const list = await (await fetch(`${base}/api/v1/vods?channel=uploader`, { headers: { authorization: `Bearer ${user.accessToken}` } })).json();
  t.match(list.vods, [{ id: vod.id, source: 'upload', status: 'ready', progress: 100 }], 'the owner\'s list says which is an upload');

  // Deleting the VOD removes every object.
  const del = await fetch(`${base}/api/v1/vods/${vod.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
  t.equal(del.status, 204);
  t.same(await second.storage.list(`vods/${vod.id}/`), []);

  // An upload abandoned half-way on S3 expires: its multipart upload is aborted, its objects go.
  const abandoned = await tusUpload({ base, token: user.accessToken, file: file.subarray(0, 3 * CHUNK), chunkSize: CHUNK, stopAfterChunks: 1, metadata: { filename: 'abandoned.mp4' } });
  const uploadKeys = async () => (await second.storage.list('uploads/')).map((o) => o.key);
  t.ok((await uploadKeys()).some((k) => k.endsWith('.info')), 'the abandoned upload has its tus objects in the bucket');
  await second.database.db.updateTable('vods').set({ upload_expires_at: new Date(Date.now() - 1000) }).where('id', '=', abandoned.vodId).execute();
  t.equal(await second.recording.uploads!.expireStale(), 1);
  t.same(await uploadKeys(), [], 'nothing of it is left in the bucket');
  const gone = await fetch(`${base}/api/v1/uploads/${abandoned.url.split('/').pop()}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${user.accessToken}` } });
  t.equal(gone.status, 404);
});
