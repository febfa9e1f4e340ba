// Wires recording into a server: the archiver (watching MEDIA_DIR/live) and the VOD routes. main.ts
// calls this once the app is built and before it listens; `close()` stops the archiver.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { Bus } from '../src/bus/bus.ts';
import type { Config } from '../src/config.ts';
import type { VodDb } from './vod-tables.ts';
import { vodMediaRoutes } from './vod-media-routes.ts';
import { vodRoutes, type VodExtras } from './vod-routes.ts';
import type { Logger } from '../src/log.ts';
import type { ServerKeys } from '../src/secrets.ts';
import type { Storage } from '../src/storage/storage.ts';
import { Archiver } from './archiver.ts';
import type { BackoffPolicy } from './retry-backoff.ts';
import { VodStore } from './vod-store.ts';
import { registerVodMetrics } from './vod-metrics.ts';
import { VodUrlSigner } from './vod-url-signer.ts';
import { registerUploads, type UploadsHandle } from './register-uploads.ts';
import type { StorageQuota } from './storage-quota.ts';
import type { Jobs } from '../src/jobs/jobs.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { FreshSegments } from '../packager/fresh-segments.ts';

export interface VodDeps {
  db: Kysely<VodDb>;
  bus: Bus;
  storage: Storage;
  config: Config;
  log: Logger;
  keys: ServerKeys;
  /** This node's id (src/node-identity.ts): which sessions its archiver finalises. */
  nodeId: string;
  /** Resolves bearer tokens for the owner-only routes. */
  accounts: AccountService;
  /** false when the archiver runs as its own process (`npm run archiver`): only the routes are added. */
  archive?: boolean;
  backoff?: BackoffPolicy;
  /** Uploads (tus) and their transcoding jobs; off without it. */
  uploads?: {
    jobs: Jobs;
    limiter: RateLimiter;
    quota: StorageQuota;
    /** false when `npm run worker` processes run the transcoding jobs (WORKER=external). */
    work: boolean;
  };
  /** Fields other rooms add to a VOD's API body (social/'s counts). */
  extras?: VodExtras;
  /** The live packager's segments as it writes them (the same object its LiveManager was given). */
  fresh?: FreshSegments;
}

export interface VodHandle {
  archiver: Archiver | null;
  uploads: UploadsHandle | null;
  close(): Promise<void>;
}

export async function registerVod(app: FastifyInstance, deps: VodDeps): Promise<VodHandle> {
  const { db, storage, config, log, keys } = deps;
  // The JWT key is the server secret's derivative the app already holds; the signer derives its own from it.
  const signer = new VodUrlSigner(keys.jwt);
  const uploads = deps.uploads ? await registerUploads(app, { db, bus: deps.bus, storage, config, log, accounts: deps.accounts, ...deps.uploads }, { work: deps.uploads.work }) : null;
  await app.register(vodRoutes, { prefix: '/api/v1', db, storage, accounts: deps.accounts, signer, publicUrl: config.publicUrl, uploads, extras: deps.extras });
  await app.register(vodMediaRoutes, { prefix: '/vod', db, storage, signer });

  let archiver: Archiver | null = null;
  if (deps.archive !== false) {
    const store = new VodStore(db);
    archiver = new Archiver({
      mediaDir: config.mediaDir,
      store,
      metrics: registerVodMetrics(app.metricsRegistry, store, deps.nodeId),
      nodeId: deps.nodeId,
      nodeLostFinalizeMs: config.nodeLostFinalizeMs,
      storage,
      bus: deps.bus,
      log: log.child({ mod: 'archiver' }),
      ffmpegPath: config.live.ffmpegPath,
      windowSegments: config.live.windowSegments,
      tileBatch: config.live.tileBatch,
      backoff: deps.backoff,
      fresh: deps.fresh,
    });
    await archiver.start();
  }
  return {
    archiver,
    uploads,
    close: async () => {
      await uploads?.close();
      await archiver?.close();
    },
  };
}
