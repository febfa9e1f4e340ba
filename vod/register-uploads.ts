// Wires uploads into a server: the tus endpoint and its VOD rows, the expiry sweeper, and the
// transcoding jobs' queue (this process works it when WORKER=in-process). registerVod calls it;
// what it returns lets the VOD routes discard an upload's source and job when its VOD is deleted.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { Config } from '../src/config.ts';
import type { Jobs } from '../src/jobs/jobs.ts';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';
import type { StorageQuota } from './storage-quota.ts';
import { enqueueTranscode, registerTranscodeJobs, TRANSCODE_QUEUE } from './transcode-job.ts';
import { createUploadHook, uploadRoutes } from './upload-routes.ts';
import { UploadStore } from './upload-store.ts';
import { TusUploads, type TusStorage } from './upload-tus.ts';
import type { VodDb } from './vod-tables.ts';
import type { Bus } from '../src/bus/bus.ts';
import { progressPublisher, VodProgressHub, vodProgressRoutes } from './vod-progress.ts';

export interface UploadDeps {
  db: Kysely<VodDb>;
  bus: Bus;
  storage: Storage;
  config: Config;
  log: Logger;
  accounts: AccountService;
  limiter: RateLimiter;
  jobs: Jobs;
  quota: StorageQuota;
}

export interface UploadsHandle {
  /** Stops the VOD's job and removes its source, if it is an upload still in progress. */
  discard(vod: { id: string; source: string; upload_id: string | null }): Promise<void>;
  /** Stops the VOD's transcoding; it ends failed with the owner's reason. */
  cancel(vod: { id: string; upload_id: string | null }): Promise<void>;
  /** Removes unfinished uploads past their expiry; returns how many. */
  expireStale(now?: Date): Promise<number>;
  close(): Promise<void>;
}

/** Where tus keeps uploads: S3 when configured, else DATA_DIR/tus. Shared by the server and workers. */
export function tusStorageOf(config: Config): TusStorage {
  return config.s3 ? { kind: 's3', s3: config.s3 } : { kind: 'local', directory: path.join(config.dataDir, 'tus') };
}

export function transcodeDepsOf(config: Config, db: Kysely<VodDb>, storage: Storage, tus: TusUploads, log: Logger, bus: Pick<Bus, 'publish'>) {
  return {
    notify: progressPublisher(bus),
    announceReady: (ready: { vodId: string; channelId: string }) => bus.publish('vod.ready', ready),
    db,
    storage,
    source: tus,
    ffmpegPath: config.live.ffmpegPath,
    ladder: config.live.ladder,
    preset: config.live.x264Preset,
    maxDurationS: config.uploads.maxDurationS,
    log: log.child({ mod: 'transcode' }),
  };
}

/** A tus server for reading and removing sources only (workers): it never accepts requests. */
export function sourceReader(config: Config, storage: Storage): TusUploads {
  return new TusUploads({
    removeObject: config.s3 ? (key) => storage.remove(key) : undefined,
    storage: tusStorageOf(config),
    path: '/api/v1/uploads',
    publicUrl: config.publicUrl,
    maxBytes: config.uploads.maxBytes,
    expiryMs: config.uploads.expiryMs,
    onCreate: async () => {
      throw new Error('this process does not accept uploads');
    },
    onFinish: async () => {},
    onProgress: () => {},
  });
}

export async function registerUploads(app: FastifyInstance, deps: UploadDeps, options: { work: boolean }): Promise<UploadsHandle> {
  const { config, db, jobs } = deps;
  const log = deps.log.child({ mod: 'uploads' });
  const store = new UploadStore(db);
  const notify = progressPublisher(deps.bus);
  const hub = new VodProgressHub();
  await hub.start(deps.bus, log);
  const hookOpts = { store, perUser: config.uploads.perUser, expiryMs: config.uploads.expiryMs };
  const tus = new TusUploads({
    removeObject: config.s3 ? (key) => deps.storage.remove(key) : undefined,
    storage: tusStorageOf(config),
    path: '/api/v1/uploads',
    publicUrl: config.publicUrl,
    maxBytes: config.uploads.maxBytes,
    expiryMs: config.uploads.expiryMs,
    onCreate: createUploadHook(hookOpts),
    onFinish: async (upload) => {
      const vodId = await store.finish(upload.id, upload.size ?? upload.offset);
      if (!vodId) return;
      await enqueueTranscode(jobs, vodId);
      notify({ vodId, status: 'processing', progress: 0, failureReason: null });
      log.info({ vod: vodId, bytes: upload.size }, 'upload complete; transcoding queued');
    },
    onProgress: (upload) => void store.setOffset(upload.id, upload.offset).catch((err) => log.warn({ err }, 'recording upload progress failed')),
  });

  await app.register(uploadRoutes, {
    prefix: '/api/v1',
    tus,
    store,
    quota: deps.quota,
    accounts: deps.accounts,
    limiter: deps.limiter,
    channelOf: async (userId) => (await db.selectFrom('channels').select('id').where('owner_id', '=', userId).executeTakeFirst())?.id ?? null,
    maxBytes: config.uploads.maxBytes,
    perUser: config.uploads.perUser,
    expiryMs: config.uploads.expiryMs,
    log,
  });

  await app.register(vodProgressRoutes, { prefix: '/api/v1', db, accounts: deps.accounts, hub });
  if (options.work) registerTranscodeJobs(jobs, transcodeDepsOf(config, db, deps.storage, tus, deps.log, deps.bus), { concurrency: config.workerConcurrency });
  // A job lost before it was queued (a crash between the last byte and the queue) is added again;
  // one that is still known is not added twice (the VOD id is its job id).
  for (const vodId of await store.processing()) await enqueueTranscode(jobs, vodId);

  const expireStale = async (now = new Date()): Promise<number> => {
    let removed = 0;
    for (const row of await store.expired(now)) {
      if (row.upload_id) await tus.remove(row.upload_id);
      await store.remove(row.id);
      removed++;
      log.info({ vod: row.id }, 'unfinished upload expired; removed');
    }
    return removed;
  };
  const sweep = setInterval(() => void expireStale().catch((err) => log.error({ err }, 'expiring uploads failed')), Math.min(60_000, config.uploads.expiryMs));
  sweep.unref();

  const dropSource = async (vod: { id: string; upload_id: string | null }) => {
    if (vod.upload_id) await tus.remove(vod.upload_id);
    await store.forgetSource(vod.id);
  };
  return {
    expireStale,
    discard: async (vod) => {
      if (vod.source !== 'upload') return;
      await jobs.cancel(TRANSCODE_QUEUE, vod.id);
      await dropSource(vod);
    },
    cancel: async (vod) => {
      await store.fail(vod.id, 'Cancelled by its owner.');
      notify({ vodId: vod.id, status: 'failed', progress: 0, failureReason: 'Cancelled by its owner.' });
      await jobs.cancel(TRANSCODE_QUEUE, vod.id);
      await dropSource(vod);
    },
    close: async () => {
      clearInterval(sweep);
      await hub.close();
    },
  };
}
