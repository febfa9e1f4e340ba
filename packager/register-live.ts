// Everything the live path adds to the HTTP app: the HLS playlists and media (/hls), who is live and
// the owner's ingest health (/api/v1), and the live channel thumbnails. main.ts calls it once the
// app is built and closes the returned handle on shutdown.
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { hlsRoutes } from './hls-routes.ts';
import type { LiveManager } from './live-manager.ts';
import { liveRoutes } from './live-routes.ts';
import { liveThumbnailRoute } from './live-thumbnail-route.ts';
import type { ViewerCounter } from './viewer-counter.ts';

export interface LiveDeps {
  live: Pick<LiveManager, 'session' | 'liveSession' | 'live'>;
  accounts: AccountService;
  channels: ChannelService;
  viewers: ViewerCounter;
  /** MEDIA_DIR: live files are under MEDIA_DIR/live/<session>/<rendition>/ */
  mediaDir: string;
  ffmpegPath: string;
  publicUrl: string;
}

export interface LiveHandle {
  close(): Promise<void>;
}

export async function registerLive(app: FastifyInstance, deps: LiveDeps): Promise<LiveHandle> {
  const { live, viewers } = deps;
  await app.register(hlsRoutes, { prefix: '/hls', mediaDir: deps.mediaDir, session: (id) => live.session(id), viewers });
  await app.register(liveRoutes, {
    prefix: '/api/v1',
    accounts: deps.accounts,
    channels: deps.channels,
    live: () => live.live(),
    liveSession: (id) => live.liveSession(id),
    viewers,
    publicUrl: deps.publicUrl,
  });
  await app.register(liveThumbnailRoute, {
    prefix: '/api/v1/channels',
    channels: deps.channels,
    liveSession: (id) => live.liveSession(id),
    mediaDir: deps.mediaDir,
    ffmpegPath: deps.ffmpegPath,
  });
  // The sessions themselves belong to the LiveManager, which main.ts closes; the routes hold nothing.
  return { close: async () => {} };
}
