// How many chat sockets one address and one account may hold on this node. Counted per node, in
// memory: what a flood of sockets exhausts (file descriptors, memory, fan-out work) is a node's,
// and in-memory counts cannot leak, whereas shared counters in Redis would stay inflated after a
// node crashed and lock an address out. With N nodes behind nginx an address may reach N times
// the limit; the edge spreads one client's connections, so that is rarely more than a few times.
import { isIPv6 } from 'node:net';

export class SocketCounter {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more socket for `key`, or returns false when it already has `max`. */
  tryAcquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/**
 * The key an address is counted under. IPv6 by its /64: one household or phone is handed a whole
 * /64, so counting single IPv6 addresses would limit nothing. An IPv4-mapped IPv6 address counts
 * as its IPv4 address.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
