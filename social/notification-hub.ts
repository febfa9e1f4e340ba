// The notification sockets open on this node, by user, and the push to them. A fan-out job (on any
// node) publishes one `social.notified` bus message per subject when its rows are stored; every
// node then loads the notifications of just the users it has sockets for and sends each its own.
import type { WebSocket } from 'ws';
import type { Bus, Unsubscribe } from '../src/bus/bus.ts';
import { keepSubscribed } from '../src/bus/keep-subscribed.ts';
import type { Logger } from '../src/log.ts';
import type { NotificationStore, NotificationView } from './notification-store.ts';
import type { NotificationKind } from './social-tables.ts';

export const NOTIFIED_TOPIC = 'social.notified';

export interface NotifiedEvent {
  kind: NotificationKind;
  subjectId: string;
}

export type ServerFrame =
  | { type: 'authed'; unread: number }
  | { type: 'notification'; notification: NotificationView; unread: number }
  | { type: 'error'; code: string; message: string };

export interface HubClient {
  socket: WebSocket;
  userId: string;
  /** Checks the socket's token again (expiry, sign-out everywhere) before anything is pushed. */
  stillValid(): Promise<boolean>;
}

/** A reader more than this far behind is dropped rather than buffered for. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export class NotificationHub {
  private readonly byUser = new Map<string, Set<HubClient>>();
  private unsubscribe: Unsubscribe | null = null;

  constructor(private readonly deps: { bus: Bus; store: NotificationStore; log: Logger }) {}

  async start(): Promise<void> {
    // A bus that is down at start only delays the pushes; the bell's list is read from the database.
    const kept = keepSubscribed(
      this.deps.bus,
      NOTIFIED_TOPIC,
      (message) => void this.deliver(message as NotifiedEvent).catch((err) => this.deps.log.error({ err }, 'pushing notifications failed')),
      this.deps.log,
    );
    this.unsubscribe = () => kept.close();
  }

  add(client: HubClient): void {
    let set = this.byUser.get(client.userId);
    if (!set) this.byUser.set(client.userId, (set = new Set()));
    set.add(client);
  }

  remove(client: HubClient): void {
    const set = this.byUser.get(client.userId);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.byUser.delete(client.userId);
  }

  countFor(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    for (const set of this.byUser.values()) for (const client of set) client.socket.close(1001, 'server shutting down');
    this.byUser.clear();
  }

  private async deliver(event: NotifiedEvent): Promise<void> {
    if (this.byUser.size === 0) return;
    const rows = await this.deps.store.forSubject([...this.byUser.keys()], event.kind, event.subjectId);
    const unreadOf = await this.deps.store.unreadOf(rows.map((r) => r.userId));
    for (const row of rows) {
      const clients = this.byUser.get(row.userId);
      if (!clients) continue;
      const { userId: _userId, ...notification } = row;
      const unread = unreadOf.get(row.userId) ?? 0;
      for (const client of clients) {
        if (!(await client.stillValid())) continue;
        send(client.socket, { type: 'notification', notification, unread });
      }
    }
  }
}

export function send(socket: WebSocket, frame: ServerFrame): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
    socket.close(1013, 'too far behind');
    return;
  }
  socket.send(JSON.stringify(frame));
}
