// Everything chat adds to the HTTP app: the socket route, moderation and replay endpoints. main.ts
// calls it once buildApp has returned and closes the returned handle on shutdown.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { Bus } from '../src/bus/bus.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import type { Logger } from '../src/log.ts';
import { chatReplayRoute } from './chat-replay-route.ts';
import { ChatRooms } from './chat-rooms.ts';
import { DEFAULT_LIMITS, ChatService, type ChatLimits, type LiveLookup } from './chat-service.ts';
import { chatSocketRoute, type ChatSocketOptions } from './chat-socket-route.ts';
import { moderationRoutes } from './moderation-routes.ts';
import type { ChatDb } from './chat-tables.ts';

export interface ChatOptions {
  limits: ChatLimits;
  flood: ChatSocketOptions['flood'];
  maxSockets: ChatSocketOptions['maxSockets'];
  maxBufferedBytes: number;
  viewerIntervalMs: number;
  heartbeatMs: number;
}

export const DEFAULT_CHAT_OPTIONS: ChatOptions = {
  limits: DEFAULT_LIMITS,
  // Generous for a person, tight for a script: 20 frames at once, 5 per second after that.
  flood: { burst: 20, perSecond: 5 },
  // main.ts passes CHAT_MAX_SOCKETS_PER_IP / _PER_USER; these are the same defaults (see config.ts).
  maxSockets: { perAddress: 100, perUser: 10 },
  // About a thousand full-length messages behind: far more than a healthy reader ever is.
  maxBufferedBytes: 1024 * 1024,
  viewerIntervalMs: 2000,
  heartbeatMs: 30_000,
};

export interface ChatDeps {
  db: Kysely<ChatDb>;
  bus: Bus;
  limiter: RateLimiter;
  accounts: AccountService;
  channels: ChannelService;
  live: LiveLookup;
  log: Logger;
  /** Tests and the bench tune limits and intervals; main.ts passes the socket limits from its config. */
  options?: Partial<ChatOptions>;
}

export interface ChatHandle {
  service: ChatService;
  rooms: ChatRooms;
  close(): Promise<void>;
}

export async function registerChat(app: FastifyInstance, deps: ChatDeps): Promise<ChatHandle> {
  const options = { ...DEFAULT_CHAT_OPTIONS, ...deps.options };
  const log = deps.log.child({ mod: 'chat' });
  const service = new ChatService({ db: deps.db, bus: deps.bus, limiter: deps.limiter, live: deps.live, log, limits: options.limits });
  const rooms = new ChatRooms({ bus: deps.bus, log, maxBufferedBytes: options.maxBufferedBytes, viewerIntervalMs: options.viewerIntervalMs, heartbeatMs: options.heartbeatMs });
  await app.register(chatSocketRoute, { service, rooms, accounts: deps.accounts, channels: deps.channels, log, flood: options.flood, maxSockets: options.maxSockets });
  await app.register(moderationRoutes, { prefix: '/api/v1/channels', service, accounts: deps.accounts, channels: deps.channels });
  await app.register(chatReplayRoute, { prefix: '/api/v1', service, db: deps.db, accounts: deps.accounts });
  return { service, rooms, close: () => rooms.close() };
}
