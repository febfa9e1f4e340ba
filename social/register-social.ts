// Everything social/ adds to a server: follows, comments, likes, views and history, search,
// notifications (REST and WebSocket) and webhooks; the bus listeners that turn stream and video
// events into jobs; and the job handlers, which main.ts (or a worker) decides to run.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { Bus } from '../src/bus/bus.ts';
import type { BucketSpec, RateLimiter } from '../src/bus/rate-limiter.ts';
import type { Channel, ChannelService } from '../src/channels/channel-service.ts';
import type { JobHandler, Jobs } from '../src/jobs/jobs.ts';
import type { Logger } from '../src/log.ts';
import { commentRoutes } from './comment-routes.ts';
import { CommentStore } from './comment-store.ts';
import { followRoutes } from './follow-routes.ts';
import { historyRoutes } from './history-routes.ts';
import { likeRoutes } from './like-routes.ts';
import { NOTIFIED_TOPIC, NotificationHub, type NotifiedEvent } from './notification-hub.ts';
import { notificationRoutes } from './notification-routes.ts';
import { NotificationStore } from './notification-store.ts';
import { PeakViewers, type PeakSource } from './peak-viewers.ts';
import { searchRoutes } from './search-routes.ts';
import { EVENT_QUEUE, FANOUT_QUEUE, eventHandler, fanoutHandler, listenForEvents } from './social-events.ts';
import { channelInfo, vodInfo } from './social-info.ts';
import type { ReportNoticeDetails, SocialDb } from './social-tables.ts';
import { ViewRecorder } from './view-recorder.ts';
import { DELIVERY_QUEUE, DELIVERY_RETRY, deliveryHandler } from './webhook-delivery.ts';
import { webhookRoutes } from './webhook-routes.ts';
import type { Resolve } from './webhook-url-guard.ts';
import type { WriteKind } from './write-limit.ts';

export interface SocialOptions {
  /** How often batched views and positions are written. */
  flushMs: number;
  peakIntervalMs: number;
  maxNotificationSocketsPerUser: number;
  /** Webhook delivery retries: attempts in all and the first delay (doubling). */
  delivery: { attempts: number; backoffMs: number };
  writeLimits: Partial<Record<WriteKind, BucketSpec>>;
}

export const DEFAULT_SOCIAL_OPTIONS: SocialOptions = {
  flushMs: 5000,
  peakIntervalMs: 5000,
  maxNotificationSocketsPerUser: 10,
  delivery: DELIVERY_RETRY,
  writeLimits: {},
};

export interface SocialDeps {
  db: Kysely<SocialDb>;
  bus: Bus;
  limiter: RateLimiter;
  jobs: Jobs;
  accounts: AccountService;
  channels: ChannelService;
  log: Logger;
  keys: { webhookSecretCipher: Buffer; viewerHash: Buffer };
  /** WEBHOOK_ALLOW_PRIVATE: webhooks may target private and loopback addresses, over http too. */
  allowPrivateWebhooks: boolean;
  /** This node's live sessions and their viewers, for the peak. */
  live: PeakSource;
  /** Tests resolve webhook host names without DNS. */
  resolve?: Resolve;
  options?: Partial<SocialOptions>;
}

export interface SocialHandle {
  /** Adds followerCount (and following) to a channel body. */
  channelInfo(channel: Channel, viewerId: string | null): Promise<Record<string, unknown>>;
  /** Adds counts, the viewer's like and resume point to VOD bodies. */
  vodInfo(vodIds: string[], viewerId: string | null): Promise<Map<string, Record<string, unknown>>>;
  /** Queue name → handler and how many to run at once: the composition root runs them with jobs.work(). */
  jobHandlers: Record<string, { handler: JobHandler<never>; concurrency: number }>;
  /** Comments as the other rooms reach them (reports, suspension), through main.ts. */
  comments: {
    /** The author of a comment that exists and is not deleted; null otherwise. */
    author(commentId: string): Promise<string | null>;
    /** Deletes a comment as its channel's owner or a moderator would (deleted_by is `actorId`); false when already gone. */
    remove(commentId: string, actorId: string): Promise<boolean>;
    /** Hides (or shows again) all of a user's comments; returns how many changed. */
    setHiddenForUser(userId: string, hidden: boolean): Promise<number>;
  };
  /** Stores a report's outcome in the reporter's notifications and pushes it to their open pages. */
  notifyReportOutcome(userId: string, reportId: string, details: ReportNoticeDetails): Promise<void>;
  recorder: ViewRecorder;
  hub: NotificationHub;
  close(): Promise<void>;
}

export async function registerSocial(app: FastifyInstance, deps: SocialDeps): Promise<SocialHandle> {
  const options = { ...DEFAULT_SOCIAL_OPTIONS, ...deps.options };
  const log = deps.log.child({ mod: 'social' });
  const { db, accounts, limiter } = deps;
  const store = new NotificationStore(db);
  const comments = new CommentStore(db);
  const hub = new NotificationHub({ bus: deps.bus, store, log });
  const recorder = new ViewRecorder({ db, limiter, log, flushMs: options.flushMs });
  const peaks = new PeakViewers({ db, source: deps.live, log, intervalMs: options.peakIntervalMs });
  const writeLimits = options.writeLimits;

  await app.register(
    async (api) => {
      await api.register(followRoutes, { db, accounts, channels: deps.channels, limiter });
      await api.register(commentRoutes, { db, accounts, limiter, writeLimits });
      await api.register(likeRoutes, { db, accounts, limiter, writeLimits });
      await api.register(historyRoutes, { db, accounts, limiter, recorder, viewerHashKey: deps.keys.viewerHash });
      await api.register(searchRoutes, { db, accounts, channels: deps.channels });
      await api.register(notificationRoutes, { store, hub, accounts, log, maxSocketsPerUser: options.maxNotificationSocketsPerUser });
      await api.register(webhookRoutes, { db, accounts, channels: deps.channels, limiter, cipherKey: deps.keys.webhookSecretCipher, allowPrivate: deps.allowPrivateWebhooks, resolve: deps.resolve, writeLimits });
    },
    { prefix: '/api/v1' },
  );

  const eventDeps = { db, bus: deps.bus, jobs: deps.jobs, store, log, delivery: options.delivery };
  // The bus may be down at start (Redis unreachable): the server still starts, and the hub's and
  // the events' subscriptions are kept by keepSubscribed, retried until they hold.
  await hub.start();
  const unsubscribe = await listenForEvents(eventDeps);

  return {
    channelInfo: (channel, viewerId) => channelInfo(db, channel.id, viewerId),
    vodInfo: (ids, viewerId) => vodInfo(db, recorder, ids, viewerId),
    jobHandlers: {
      [EVENT_QUEUE]: { handler: eventHandler(eventDeps) as JobHandler<never>, concurrency: 2 },
      // One fan-out at a time per process: a popular channel's 100,000 rows should not take the
      // database from everything else at once.
      [FANOUT_QUEUE]: { handler: fanoutHandler(eventDeps) as JobHandler<never>, concurrency: 1 },
      // Deliveries mostly wait on other people's servers (up to 10 s each).
      [DELIVERY_QUEUE]: { handler: deliveryHandler({ db, cipherKey: deps.keys.webhookSecretCipher, allowPrivate: deps.allowPrivateWebhooks, log }) as JobHandler<never>, concurrency: 8 },
    },
    comments: {
      author: (id) => comments.author(id),
      remove: (id, actorId) => comments.remove(id, actorId),
      setHiddenForUser: (userId, hidden) => comments.setHiddenForUser(userId, hidden),
    },
    async notifyReportOutcome(userId, reportId, details) {
      if (!(await store.notifyOne(userId, 'report', reportId, details))) return;
      // Pushed like the others; the row is stored, so a bus outage loses only the push.
      await deps.bus.publish(NOTIFIED_TOPIC, { kind: 'report', subjectId: reportId } satisfies NotifiedEvent).catch((err) => log.warn({ err, reportId }, 'pushing a report outcome failed'));
    },
    recorder,
    hub,
    async close() {
      peaks.close();
      await unsubscribe().catch(() => {});
      await hub.close();
      await recorder.close();
    },
  };
}
