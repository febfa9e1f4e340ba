// Stream and video events become jobs, never work in the ingest path or a request: the live
// manager publishes `stream.started` / `stream.ended` and the archiver `vod.ready` on the bus; each
// node that hears one adds one job, keyed by the event and its subject, so several nodes (or a
// repeated event) still make one. Notifications key off the live session id, which a publisher
// reconnecting within the grace window keeps: a flapping stream notifies once.
import type { Kysely } from 'kysely';
import type { Bus, Unsubscribe } from '../src/bus/bus.ts';
import { keepSubscribed } from '../src/bus/keep-subscribed.ts';
import type { JobContext, Jobs } from '../src/jobs/jobs.ts';
import type { Logger } from '../src/log.ts';
import { NOTIFIED_TOPIC, type NotifiedEvent } from './notification-hub.ts';
import type { NotificationStore } from './notification-store.ts';
import type { NotificationKind, SocialDb, WebhookEvent } from './social-tables.ts';
import { DELIVERY_QUEUE } from './webhook-delivery.ts';

export const EVENT_QUEUE = 'social-event';
export const FANOUT_QUEUE = 'social-fanout';

export interface SocialEvent {
  event: WebhookEvent;
  channelId: string;
  /** The live session (stream.*) or the video (vod.ready). */
  subjectId: string;
  occurredAt: string;
  reason?: string;
}

export interface FanoutJob {
  kind: NotificationKind;
  channelId: string;
  subjectId: string;
}

export interface SocialEventDeps {
  db: Kysely<SocialDb>;
  bus: Bus;
  jobs: Jobs;
  store: NotificationStore;
  log: Logger;
  delivery: { attempts: number; backoffMs: number };
}

/** Subscribes to the bus topics; returns the unsubscribe. */
export async function listenForEvents(deps: SocialEventDeps): Promise<Unsubscribe> {
  const enqueue = (event: SocialEvent) =>
    void deps.jobs
      .add(EVENT_QUEUE, event, { jobId: `${event.event}.${event.subjectId}`, attempts: 10, backoffMs: 2000 })
      .catch((err) => deps.log.error({ err, event: event.event, subject: event.subjectId }, 'queueing a stream event failed'));
  const at = (m: { startedAt?: string }) => m.startedAt ?? new Date().toISOString();
  // Kept while the bus is down at start: events published meanwhile are lost, as any bus outage loses them.
  const kept = [
    keepSubscribed(deps.bus, 'stream.started', (m) => {
      const msg = m as { sessionId: string; channelId: string; startedAt?: string };
      enqueue({ event: 'stream.started', channelId: msg.channelId, subjectId: msg.sessionId, occurredAt: at(msg) });
    }, deps.log),
    keepSubscribed(deps.bus, 'stream.ended', (m) => {
      const msg = m as { sessionId: string; channelId: string; reason?: string };
      enqueue({ event: 'stream.ended', channelId: msg.channelId, subjectId: msg.sessionId, occurredAt: new Date().toISOString(), reason: msg.reason });
    }, deps.log),
    keepSubscribed(deps.bus, 'vod.ready', (m) => {
      const msg = m as { vodId: string; channelId: string };
      enqueue({ event: 'vod.ready', channelId: msg.channelId, subjectId: msg.vodId, occurredAt: new Date().toISOString() });
    }, deps.log),
  ];
  return async () => {
    await Promise.all(kept.map((k) => k.close()));
  };
}

/** One event: a delivery per subscribed webhook, and the followers' fan-out. Safe to run twice. */
export function eventHandler(deps: SocialEventDeps) {
  return async (job: JobContext<SocialEvent>): Promise<void> => {
    const e = job.data;
    const { db } = deps;
    const channel = await db.selectFrom('channels').select(['id', 'slug', 'title']).where('id', '=', e.channelId).executeTakeFirst();
    if (!channel) return;
    const data = await payloadData(db, e, channel);
    if (data === null) return;
    const hooks = await db.selectFrom('webhooks').select(['id', 'events']).where('channel_id', '=', e.channelId).execute();
    const key = `${e.event}:${e.subjectId}`;
    const body = JSON.stringify({ id: key, type: e.event, createdAt: e.occurredAt, data });
    for (const hook of hooks.filter((h) => h.events.includes(e.event))) {
      await db.insertInto('webhook_deliveries').values({ webhook_id: hook.id, event: e.event, event_key: key, body }).onConflict((oc) => oc.doNothing()).execute();
    }
    // Pending ones only: a re-run adds (by id, so at most once) what a crash left unqueued.
    const pending = await db.selectFrom('webhook_deliveries').select('id').where('event_key', '=', key).where('status', '=', 'pending').where('attempts', '=', 0).execute();
    for (const d of pending) await deps.jobs.add(DELIVERY_QUEUE, { deliveryId: d.id }, { jobId: `delivery.${d.id}`, ...deps.delivery });

    const kind: NotificationKind | null = e.event === 'stream.started' ? 'live' : e.event === 'vod.ready' && (data as { vod: { visibility: string } }).vod.visibility === 'public' ? 'video' : null;
    if (kind) await deps.jobs.add(FANOUT_QUEUE, { kind, channelId: e.channelId, subjectId: e.subjectId } satisfies FanoutJob, { jobId: `fanout.${kind}.${e.subjectId}`, attempts: 10, backoffMs: 2000 });
  };
}

/** Notifies every follower, a batch at a time, then tells every node's sockets once. */
export function fanoutHandler(deps: Pick<SocialEventDeps, 'bus' | 'store' | 'log' | 'db'>) {
  return async (job: JobContext<FanoutJob>): Promise<void> => {
    const { kind, channelId, subjectId } = job.data;
    const total = Number((await deps.db.selectFrom('follows').select((eb) => eb.fn.countAll<string | number>().as('n')).where('channel_id', '=', channelId).executeTakeFirstOrThrow()).n);
    let cursor: string | null = null;
    let done = 0;
    let inserted = 0;
    for (;;) {
      if (job.signal.aborted) throw new Error('fan-out aborted; it resumes where the stored rows end');
      const batch = await deps.store.fanOutBatch(channelId, kind, subjectId, cursor);
      if (batch.last === null) break;
      cursor = batch.last;
      inserted += batch.inserted;
      done += 1;
      if (total > 0) await job.progress(Math.min(99, Math.round((done * 5000 * 100) / total)));
    }
    deps.log.info({ kind, channel: channelId, subject: subjectId, followers: total, inserted }, 'notifications stored');
    await deps.bus.publish(NOTIFIED_TOPIC, { kind, subjectId } satisfies NotifiedEvent);
  };
}

async function payloadData(db: Kysely<SocialDb>, e: SocialEvent, channel: { slug: string; title: string }): Promise<Record<string, unknown> | null> {
  const ch = { slug: channel.slug, title: channel.title };
  if (e.event === 'stream.started') return { channel: ch, sessionId: e.subjectId, startedAt: e.occurredAt };
  if (e.event === 'stream.ended') return { channel: ch, sessionId: e.subjectId, reason: e.reason ?? null };
  const vod = await db.selectFrom('vods').select(['id', 'title', 'duration_s', 'visibility']).where('id', '=', e.subjectId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!vod) return null;
  return { channel: ch, vod: { id: vod.id, title: vod.title, durationS: vod.duration_s, visibility: vod.visibility } };
}
