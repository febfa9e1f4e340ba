// What /metrics shows of the live path on this node: sessions it owns, publishers, viewers, each
// owned session's ingest bitrate, parts produced, playlist requests held for a blocking reload and
// requests proxied to other nodes. Labels stay bounded: a session label lives only while the session
// is owned here (the series is dropped with it), a proxy status is a status class.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LiveSnapshot } from './live-session-view.ts';
import type { ProxyMetrics } from './owner-proxy.ts';

export interface LiveMetricsSources {
  /** Snapshots of the sessions this node owns. */
  owned: () => LiveSnapshot[];
  publishers: () => number;
  viewers: (sessionId: string) => number;
}

export class LiveMetrics implements ProxyMetrics {
  private readonly parts: Counter;
  private readonly waiting: Gauge;
  private readonly proxied: Counter<'status'>;

  constructor(registry: Registry, sources: LiveMetricsSources) {
    new Gauge({
      name: 'spillway_live_sessions_owned',
      help: 'Live sessions this node ingests and owns.',
      registers: [registry],
      collect() {
        this.set(sources.owned().length);
      },
    });
    new Gauge({
      name: 'spillway_publishers',
      help: 'RTMP publishers connected to this node.',
      registers: [registry],
      collect() {
        this.set(sources.publishers());
      },
    });
    new Gauge({
      name: 'spillway_viewers',
      help: "Viewers of the sessions this node owns (counted here, including those reaching it through another node).",
      registers: [registry],
      collect() {
        this.set(sources.owned().reduce((sum, s) => sum + sources.viewers(s.id), 0));
      },
    });
    new Gauge({
      name: 'spillway_ingest_bitrate_bits_per_second',
      help: 'Incoming bitrate of each session this node owns.',
      labelNames: ['session'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources.owned()) this.set({ session: s.id }, Math.round(s.health.bitrateKbps * 1000));
      },
    });
    this.parts = new Counter({ name: 'spillway_parts_produced_total', help: 'LL-HLS parts written, all renditions.', registers: [registry] });
    this.waiting = new Gauge({ name: 'spillway_playlist_requests_waiting', help: 'Media playlist requests held for a blocking reload right now.', registers: [registry] });
    this.proxied = new Counter({
      name: 'spillway_proxy_requests_total',
      help: 'Playlist and media requests this node forwarded to the node owning the stream, by answer status class.',
      labelNames: ['status'],
      registers: [registry],
    });
  }

  onPart(): void {
    this.parts.inc();
  }

  /** Counts a playlist request while it is held. */
  async holding<T>(wait: Promise<T>): Promise<T> {
    this.waiting.inc();
    try {
      return await wait;
    } finally {
      this.waiting.dec();
    }
  }

  onProxied(status: number): void {
    this.proxied.inc({ status: `${Math.floor(status / 100)}xx` });
  }
}
