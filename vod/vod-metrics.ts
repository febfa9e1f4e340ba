// What /metrics shows of recording on this node: the upload queue of the sessions it owns (files
// journaled but not stored yet) and how far the oldest of them trails, and the VODs it finalised.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { VodStore } from './vod-store.ts';

export interface FinalizedMetrics {
  onFinalized(result: 'ready' | 'failed', interrupted: boolean): void;
}

export function registerVodMetrics(registry: Registry, store: Pick<VodStore, 'uploadBacklog'>, nodeId: string): FinalizedMetrics {
  // One query per scrape serves both gauges.
  let backlog: Promise<{ pending: number; oldestReadyAt: Date | null }> | null = null;
  const read = () => (backlog ??= store.uploadBacklog(nodeId).finally(() => setTimeout(() => (backlog = null), 500).unref()));
  new Gauge({
    name: 'spillway_upload_queue_length',
    help: "Recorded files of this node's sessions journaled but not yet in storage.",
    registers: [registry],
    async collect() {
      this.set((await read().catch(() => ({ pending: NaN }))).pending);
    },
  });
  new Gauge({
    name: 'spillway_upload_lag_seconds',
    help: 'How long the oldest file waiting for upload has been complete on disk (0 when none waits).',
    registers: [registry],
    async collect() {
      const oldest = (await read().catch(() => ({ oldestReadyAt: null }))).oldestReadyAt;
      this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
    },
  });
  const finalized = new Counter({
    name: 'spillway_vods_finalized_total',
    help: 'VODs this node finalised, by result, and whether from a lost node (interrupted).',
    labelNames: ['result', 'interrupted'],
    registers: [registry],
  });
  return { onFinalized: (result, interrupted) => finalized.inc({ result, interrupted: String(interrupted) }) };
}
