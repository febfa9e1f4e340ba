// Counters shared by every node (viewer presence, heartbeats): kept by the bus's backend, in
// process or in Redis, but a separate interface from pub/sub, for the consumers that count.

export interface SharedCounters {
  /** Adds `delta` to a shared counter and returns the new value. */
  incr(key: string, delta?: number): Promise<number>;
  /** The counter's value, 0 when unset. */
  getCounter(key: string): Promise<number>;
  /** Sets a counter that disappears after `ttlMs` unless set again (per-node presence, heartbeats). */
  setCounter(key: string, value: number, ttlMs: number): Promise<void>;
}
