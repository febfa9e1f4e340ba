// Viewers of a live session, counted as distinct clients that fetched one of its media playlists
// in the last few seconds (players reload them continuously while playing).
import { createHash } from 'node:crypto';

const ACTIVE_MS = 15_000;

export class ViewerCounter {
  private readonly seen = new Map<string, Map<string, number>>();

  touch(sessionId: string, clientIp: string, userAgent: string): void {
    let clients = this.seen.get(sessionId);
    if (!clients) this.seen.set(sessionId, (clients = new Map()));
    const key = createHash('sha1').update(`${clientIp}\n${userAgent}`).digest('base64url');
    clients.set(key, Date.now());
  }

  count(sessionId: string): number {
    const clients = this.seen.get(sessionId);
    if (!clients) return 0;
    const cutoff = Date.now() - ACTIVE_MS;
    for (const [key, at] of clients) if (at < cutoff) clients.delete(key);
    if (clients.size === 0) this.seen.delete(sessionId);
    return clients.size;
  }
}
