// Uploads with the embedded defaults: local storage and the database-backed job queue (no Redis).
// A good file becomes a ready VOD; every kind of bad file ends 'failed' with a reason a person
// understands, after one attempt (not retried), with nothing left in storage.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { TRANSCODE_QUEUE } from '../../vod/transcode-job.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { until } from '../helpers/media.ts';
import { decodeEndToEnd, getVod, makeVideo, settledVod, tusUpload } from '../helpers/uploads.ts';

const run = promisify(execFile);

t.test('local storage, in-process database queue: good and bad uploads', async (t) => {
  const dir = await tempDir(t, 'uploads-local');
  const server = await startTestServer(t, { REDIS_URL: '', LADDER: '240:300', X264_PRESET: 'ultrafast', UPLOAD_MAX_DURATION_S: '20', UPLOADS_PER_USER: '10' });
  t.equal(server.jobs.kind, 'database', 'no Redis: the database-backed queue');
  const base = await server.listen();
  const user = await registerUser(server, 'localuser');
  const send = async (file: Buffer, filename: string) => (await tusUpload({ base, token: user.accessToken, file, chunkSize: 1024 * 1024, metadata: { filename } })).vodId;

  await t.test('a good file: ready, decodable, source removed', async (t) => {
    const file = await readFile(await makeVideo(dir, { seconds: 12, width: 640, height: 360, kbps: 800 }));
    const vodId = await send(file, 'good.mp4');
    // The owner's page is told each change as it happens (Server-Sent Events), until ready.
    const events = await fetch(`${base}/api/v1/vods/${vodId}/events`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    t.equal(events.headers.get('content-type'), 'text/event-stream');
    const pushed = [...(await events.text()).matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { status: string; progress: number });
    t.equal(pushed.at(-1)?.status, 'ready', 'the stream ends with ready');
    t.ok(pushed.some((e) => e.status === 'processing' && e.progress > 0 && e.progress < 100), `progress pushed on the way (${pushed.map((e) => `${e.status} ${e.progress}`).join(', ')})`);
    const vod = await settledVod(base, user.accessToken, vodId);
    t.equal(vod.status, 'ready', `ready (${vod.failureReason ?? ''})`);
    t.same(vod.renditions.map((r) => r.name), ['360p', '240p']);
    const decoded = await decodeEndToEnd(`${base}${vod.playbackUrl}`);
    t.ok(Math.abs(decoded.duration - 12) <= 0.5, `decoded ${decoded.duration} s`);
    t.same(await readdir(path.join(server.dataDir, 'tus', 'uploads')), [], 'the source is gone from the tus directory');
  });

  await t.test('the owner cancels a transcoding: ffmpeg stops, the VOD ends failed, nothing is kept', async (t) => {
    const file = await readFile(await makeVideo(dir, { seconds: 18, width: 1920, height: 1080, kbps: 2000, name: 'cancel-me.mp4' }));
    const vodId = await send(file, 'cancel-me.mp4');
    await until(async () => (await getVod(base, user.accessToken, vodId)).progress > 0, 'transcoding to be under way', 60_000, 100);
    const res = await fetch(`${base}/api/v1/vods/${vodId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } });
    t.equal(res.status, 200);
    t.match(await res.json(), { status: 'failed', failureReason: 'Cancelled by its owner.' });
    // A cancelled job is forgotten (the database queue) or failed (BullMQ): either way, not running.
    const job = await until(async () => {
      const info = await server.jobs.get(TRANSCODE_QUEUE, vodId);
      return info?.state === 'active' ? null : { state: info?.state ?? 'forgotten' };
    }, 'the job to stop', 30_000, 100);
    t.not(job.state, 'completed', `the job stopped (${job.state})`);
    t.equal((await getVod(base, user.accessToken, vodId)).status, 'failed', 'still failed after the job stopped');
    t.same(await server.storage.list(`vods/${vodId}/`), [], 'nothing published');
    t.same(await readdir(path.join(server.dataDir, 'tus', 'uploads')), [], 'the uploaded file is removed');
    const again = await fetch(`${base}/api/v1/vods/${vodId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } });
    t.equal(again.status, 400, 'a finished upload cannot be cancelled');
  });

  const rightSize = await makeVideo(dir, { seconds: 4, width: 320, height: 180, kbps: 300, name: 'moov-at-end.mp4' });
  const faststart = path.join(dir, 'faststart.mp4');
  await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', await makeVideo(dir, { seconds: 8, width: 320, height: 180, kbps: 600, name: 'eight.mp4' }), '-c', 'copy', '-movflags', '+faststart', faststart]);
  const wide = await makeVideo(dir, { seconds: 1, width: 7712, height: 16, kbps: 200, audio: false, name: 'wide.mp4' });
  const long = await makeVideo(dir, { seconds: 25, width: 160, height: 90, kbps: 100, name: 'long.mp4' });
  const audioOnly = path.join(dir, 'tone.m4a');
  await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '3', '-c:a', 'aac', audioOnly]);
  const truncatedEnd = (await readFile(rightSize)).subarray(0, Math.floor((await readFile(rightSize)).length * 0.6));
  const fast = await readFile(faststart);
  const truncatedFast = fast.subarray(0, Math.floor(fast.length * 0.4));
  await writeFile(path.join(dir, 'notes.txt'), 'these are not the frames you are looking for\n'.repeat(2000));

  const cases: Array<[string, Buffer, RegExp]> = [
    ['not a video (text)', await readFile(path.join(dir, 'notes.txt')), /not a video we can read/],
    ['cut short (index at the end, missing)', truncatedEnd, /not a video we can read/],
    ['cut short (index first, media missing)', truncatedFast, /cut short|damaged/],
    ['sound only', await readFile(audioOnly), /no picture/],
    ['absurd resolution', await readFile(wide), /7712×16 pixels/],
    ['longer than UPLOAD_MAX_DURATION_S', await readFile(long), /25 s long.*20 s/],
  ];
  for (const [what, file, reason] of cases) {
    await t.test(what, async (t) => {
      const vodId = await send(file, `${what}.mp4`);
      const vod = await settledVod(base, user.accessToken, vodId);
      t.equal(vod.status, 'failed');
      t.match(vod.failureReason, reason, `reason: ${vod.failureReason}`);
      // The VOD is marked before the handler throws: the queue records the failure a moment later.
      const job = await until(async () => {
        const info = await server.jobs.get(TRANSCODE_QUEUE, vodId);
        return info?.state === 'failed' ? info : null;
      }, 'the job to fail for good', 30_000, 100);
      t.equal(job.state, 'failed', 'the job failed for good');
      t.equal(job.attempts, 1, 'and was not retried');
      t.same(await server.storage.list(`vods/${vodId}/`), [], 'nothing published');
      t.same(await readdir(path.join(server.dataDir, 'tus', 'uploads')), [], 'the uploaded file is removed');
      const del = await fetch(`${base}/api/v1/vods/${vodId}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
      t.equal(del.status, 204, 'the owner deletes the failed VOD');
    });
  }
});
