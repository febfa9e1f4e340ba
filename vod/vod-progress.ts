// Pushes an upload's processing state to its owner's page: the transcoding job (in any process)
// publishes each change on the bus, every server fans it out to the Server-Sent Events streams of
// `GET /api/v1/vods/:id/events` it holds. One bus subscription per server, not one per viewer.
import type { FastifyPluginAsync } from 'fastify';
import type { Bus } from '../src/bus/bus.ts';
import { keepSubscribed } from '../src/bus/keep-subscribed.ts';
import type { Logger } from '../src/log.ts';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../src/errors.ts';
import { errors } from '../src/http/schemas.ts';
import { findVisibleVod } from './vod-query.ts';
import type { VodDb } from './vod-tables.ts';

export const VOD_PROGRESS_TOPIC = 'vod.progress';

export interface VodProgress {
  vodId: string;
  status: 'uploading' | 'processing' | 'ready' | 'failed';
  progress: number;
  failureReason: string | null;
}

/** What a job publishes with: never throws (a lost update only delays the page's next one). */
export function progressPublisher(bus: Pick<Bus, 'publish'>): (update: VodProgress) => void {
  return (update) => void bus.publish(VOD_PROGRESS_TOPIC, update).catch(() => {});
}

export class VodProgressHub {
  private readonly listeners = new Map<string, Set<(u: VodProgress) => void>>();
  private unsubscribe: (() => Promise<void>) | null = null;

  async start(bus: Bus, log: Logger): Promise<void> {
    // A bus that is down at start only delays the pushes; the page polls meanwhile.
    const kept = keepSubscribed(
      bus,
      VOD_PROGRESS_TOPIC,
      (m) => {
        const update = m as VodProgress;
        for (const fn of this.listeners.get(update.vodId) ?? []) fn(update);
      },
      log,
    );
    this.unsubscribe = () => kept.close();
  }

  listen(vodId: string, fn: (u: VodProgress) => void): () => void {
    const set = this.listeners.get(vodId) ?? new Set();
    set.add(fn);
    this.listeners.set(vodId, set);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(vodId);
    };
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.listeners.clear();
  }
}

const KEEPALIVE_MS = 15_000;

export const vodProgressRoutes: FastifyPluginAsync<{ db: Kysely<VodDb>; accounts: AccountService; hub: VodProgressHub }> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/vods/:id/events',
    {
      schema: {
        tags: ['vods'],
        summary: 'Owner: the VOD\'s status and progress as Server-Sent Events (`data: {status, progress, failureReason}`), until it is ready or failed.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { vod, viewer } = await findVisibleVod(opts.db, opts.accounts, request, request.params.id);
      if (!viewer) throw new AppError('UNAUTHENTICATED');
      if (vod.owner_id !== viewer.id) throw new AppError('FORBIDDEN', 'Only the channel owner follows this VOD\'s processing.');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      const send = (u: Omit<VodProgress, 'vodId'>) => res.write(`data: ${JSON.stringify({ status: u.status, progress: u.progress, failureReason: u.failureReason })}\n\n`);
      // Only uploads in progress change by themselves: anything else is answered once.
      const done = (status: string) => status !== 'uploading' && status !== 'processing';
      const current = { status: vod.status as VodProgress['status'], progress: vod.status === 'ready' ? 100 : vod.progress, failureReason: vod.failure_reason };
      send(current);
      if (done(vod.status)) {
        res.end();
        return;
      }
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      const stop = opts.hub.listen(vod.id, (u) => {
        send(u);
        if (done(u.status)) res.end();
      });
      res.on('close', () => {
        clearInterval(keepalive);
        stop();
      });
    },
  );
};
