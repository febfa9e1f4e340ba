// Slows down an address that keeps presenting bad stream keys: its first refusal is immediate, each
// further one waits twice as long (base, 2×base, … up to max). Entries are forgotten after `ttlMs`
// without a failure or on a successful publish, and the table is bounded (oldest evicted first).
export interface RefusalThrottleOptions {
  baseMs: number;
  maxMs: number;
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lastAt: number;
}

export class RefusalThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: RefusalThrottleOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Records a refused attempt from `address`; returns how long to hold the refusal. */
  fail(address: string): number {
    const now = this.now();
    const key = normalize(address);
    const previous = this.entries.get(key);
    const failures = previous && now - previous.lastAt < this.options.ttlMs ? previous.failures + 1 : 1;
    // Delete then set keeps the map in least-recently-failed order for eviction.
    this.entries.delete(key);
    this.entries.set(key, { failures, lastAt: now });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    if (failures === 1) return 0;
    return Math.min(this.options.maxMs, this.options.baseMs * 2 ** Math.min(failures - 2, 20));
  }

  succeed(address: string): void {
    this.entries.delete(normalize(address));
  }
}

function normalize(address: string): string {
  return address.replace(/^::ffff:/, '');
}
