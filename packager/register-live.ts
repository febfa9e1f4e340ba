// Everything the live path adds to the HTTP app: the HLS playlists and media (/hls), who is live and
// the owner's ingest health (/api/v1), and the live channel thumbnails. main.ts calls it once the
// app is built and closes the returned handle on shutdown. Sessions other nodes own are read from
// the directory and answered through their owner.
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { hlsRoutes } from './hls-routes.ts';
import type { LiveDirectory } from './live-directory.ts';
import type { LiveManager } from './live-manager.ts';
import { liveRoutes } from './live-routes.ts';
import { liveThumbnailRoute } from './live-thumbnail-route.ts';
import type { OwnerProxy } from './owner-proxy.ts';
import type { LiveMetrics } from './live-metrics.ts';
import type { ViewerCounter } from './viewer-counter.ts';

export interface LiveDeps {
  live: Pick<LiveManager, 'session' | 'liveSession' | 'live'>;
  accounts: AccountService;
  channels: ChannelService;
  viewers: ViewerCounter;
  directory: LiveDirectory;
  proxy: OwnerProxy;
  metrics?: LiveMetrics;
  /** MEDIA_DIR: live files are under MEDIA_DIR/live/<session>/<rendition>/ */
  mediaDir: string;
  ffmpegPath: string;
  publicUrl: string;
  /** Seconds an answer to a blocking playlist reload may be cached (a few target durations). */
  blockingCacheS: number;
}

export interface LiveHandle {
  close(): Promise<void>;
}

// How often this node shares the viewer counts of the sessions it owns.
const SHARE_VIEWERS_MS = 2000;

export async function registerLive(app: FastifyInstance, deps: LiveDeps): Promise<LiveHandle> {
  const { live, viewers, directory, proxy } = deps;
  await app.register(hlsRoutes, {
    prefix: '/hls',
    mediaDir: deps.mediaDir,
    session: (id) => live.session(id),
    viewers,
    blockingCacheS: deps.blockingCacheS,
    metrics: deps.metrics,
    remote: { owner: (id) => directory.owner(id), proxy },
  });
  await app.register(liveRoutes, {
    prefix: '/api/v1',
    accounts: deps.accounts,
    channels: deps.channels,
    liveSession: (id) => live.liveSession(id),
    directory,
    viewers,
    publicUrl: deps.publicUrl,
    proxy,
  });
  await app.register(liveThumbnailRoute, {
    prefix: '/api/v1/channels',
    channels: deps.channels,
    liveSession: (id) => live.liveSession(id),
    mediaDir: deps.mediaDir,
    ffmpegPath: deps.ffmpegPath,
    remote: {
      owner: async (channelId) => {
        const entry = await directory.byChannel(channelId);
        return entry ? directory.owner(entry.sessionId) : null;
      },
      proxy,
    },
  });
  const sharing = setInterval(() => void viewers.share(live.live().map((s) => s.id)).catch(() => {}), SHARE_VIEWERS_MS).unref();
  // The sessions themselves belong to the LiveManager, which main.ts closes.
  return {
    close: async () => {
      clearInterval(sharing);
      proxy.close();
    },
  };
}
