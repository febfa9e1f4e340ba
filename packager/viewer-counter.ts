// Viewers of a live session, counted as distinct clients that fetched one of its media playlists
// in the last few seconds (players reload them continuously while playing). The owning node counts
// (a node that proxies a playlist request passes the client's key along) and shares its counts
// through the bus's counters, so every node reports the same number.
import { createHash } from 'node:crypto';
import type { SharedCounters } from '../src/bus/counters.ts';

const ACTIVE_MS = 15_000;
// A count published by the owner outlives a few missed publications, not a lost node.
const SHARED_TTL_MS = 10_000;

/** A client's key: neither its address nor its user agent can be read back from it. */
export function viewerKey(clientIp: string, userAgent: string): string {
  return createHash('sha1').update(`${clientIp}\n${userAgent}`).digest('base64url');
}

export class ViewerCounter {
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(private readonly shared: SharedCounters | null = null) {}

  touch(sessionId: string, key: string): void {
    let clients = this.seen.get(sessionId);
    if (!clients) this.seen.set(sessionId, (clients = new Map()));
    clients.set(key, Date.now());
  }

  /** Viewers of a session this node owns. */
  count(sessionId: string): number {
    const clients = this.seen.get(sessionId);
    if (!clients) return 0;
    const cutoff = Date.now() - ACTIVE_MS;
    for (const [key, at] of clients) if (at < cutoff) clients.delete(key);
    if (clients.size === 0) this.seen.delete(sessionId);
    return clients.size;
  }

  /** Viewers of any session: counted here when this node owns it, else as its owner last shared. */
  async countAnywhere(sessionId: string, ownedHere: boolean): Promise<number> {
    if (ownedHere || !this.shared) return this.count(sessionId);
    return this.shared.getCounter(`viewers:${sessionId}`).catch(() => 0);
  }

  /** Shares the counts of this node's sessions (called every couple of seconds). */
  async share(sessionIds: string[]): Promise<void> {
    if (!this.shared) return;
    await Promise.all(sessionIds.map((id) => this.shared!.setCounter(`viewers:${id}`, this.count(id), SHARED_TTL_MS)));
  }
}
