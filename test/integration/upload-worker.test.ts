// Transcoding on separate worker processes (`npm run worker`, WORKER=external on the server): two
// workers share the BullMQ queue; the one that takes the job is killed with SIGKILL mid-transcode,
// and the other takes the stalled job over and finishes it: one ready VOD, its objects written
// once (no leftovers of the dead attempt), the source removed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { startS3Server } from '../helpers/s3-server.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { until } from '../helpers/media.ts';
import { getVod, makeVideo, settledVod, tusUpload } from '../helpers/uploads.ts';

interface Worker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown>;
}

t.test('a worker killed with kill -9 mid-transcode: another worker finishes the job, one VOD', async (t) => {
  const dir = await tempDir(t, 'upload-worker');
  const s3 = await startS3Server(t);
  const env = {
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    LADDER: '360:600,240:300',
    X264_PRESET: 'ultrafast',
    WORKER: 'external',
  } as const;
  const server = await startTestServer(t, env);
  const base = await server.listen();
  const user = await registerUser(server, 'workeruser');

  const c = server.config;
  const workerEnv = {
    ...process.env,
    ...env,
    DATA_DIR: server.dataDir,
    DATABASE_URL: c.databaseUrl!,
    REDIS_URL: c.redisUrl!,
    REDIS_PREFIX: c.redisPrefix,
    SECRET_KEY: '',
    LOG_LEVEL: 'info',
  };
  const startWorker = (name: string): Worker => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'vod/worker-main.ts'], { env: { ...workerEnv, NODE_ID: name }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    return { child, output: () => out, exited };
  };
  const workers = [startWorker('w1'), startWorker('w2')];
  await until(() => workers.every((w) => w.output().includes('worker is up')), 'both workers to start', 60_000, 100);

  const file = await readFile(await makeVideo(dir, { seconds: 40, width: 1280, height: 720, kbps: 1500 }));
  const { vodId } = await tusUpload({ base, token: user.accessToken, file, metadata: { filename: 'long.mp4' } });
  // A worker is transcoding once the VOD shows progress; then its ffmpeg is well under way.
  await until(async () => (await getVod(base, user.accessToken, vodId)).progress >= 10, 'transcoding to be under way', 120_000, 100);
  const busy = await until(() => workers.find((w) => w.output().includes('transcoding an upload')), 'the worker that took the job', 10_000, 50);
  const other = workers.find((w) => w !== busy)!;
  t.notOk(other.output().includes('transcoding an upload'), 'only one worker took the job');
  busy.child.kill('SIGKILL');
  await busy.exited;
  t.pass('the busy worker was killed with SIGKILL mid-transcode');

  const vod = await settledVod(base, user.accessToken, vodId, 240_000);
  t.equal(vod.status, 'ready', `ready (${vod.failureReason ?? ''})`);
  t.match(other.output(), /transcoding an upload/, 'the other worker took the stalled job over');
  t.ok(Math.abs(vod.durationS - 40) <= 0.5, `duration ${vod.durationS} s`);

  const rows = await server.database.db.selectFrom('vods').select(['id', 'status']).execute();
  t.same(rows, [{ id: vodId, status: 'ready' }], 'one VOD, not two');
  // Every stored object is one the playlists name (no leftover of the killed attempt).
  const keys = (await server.storage.list(`vods/${vodId}/`)).map((o) => o.key.slice(`vods/${vodId}/`.length)).sort();
  const named = new Set(['master.m3u8', 'poster.jpg', 'sprite.jpg', 'thumbnails.vtt']);
  for (const r of vod.renditions) {
    named.add(`${r.name}/index.m3u8`);
    const playlist = await (await server.storage.get(`vods/${vodId}/${r.name}/index.m3u8`)).body.toArray();
    for (const line of Buffer.concat(playlist as Buffer[]).toString().split('\n')) {
      if (line && !line.startsWith('#')) named.add(`${r.name}/${line}`);
      const map = /URI="([^"]+)"/.exec(line);
      if (map) named.add(`${r.name}/${map[1]}`);
    }
  }
  t.same(keys, [...named].sort(), 'the stored objects are exactly the ones the playlists name');
  t.same(await server.storage.list('uploads/'), [], 'the source is removed');
});
