// This node's chat sockets, grouped by channel. One bus subscription per channel with sockets
// here; each event is serialised once and written to every socket whose outbound buffer is under
// the limit. A socket over it is dropped at once, so one slow reader never holds up the room.
// A quiet room sends each event at once; a busy one coalesces what arrives within `batchMs` of
// its last send into one `batch` frame, encoded once for every socket: at 50 messages/s to 5,000
// sockets that is 10 writes per socket per second instead of 50, on the server and on every
// client (bench:chat measured p99 delivery latency of 60 s without it, see the README).
import { randomUUID } from 'node:crypto';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import type { Bus, Unsubscribe } from '../src/bus/bus.ts';
import type { Logger } from '../src/log.ts';
import { CLOSE, type RoomFrame, type ServerFrame } from './chat-protocol.ts';
import { chatTopic, type TopicEvent } from './chat-service.ts';

export interface RoomsOptions {
  bus: Bus;
  log: Logger;
  /** A socket with more than this many bytes waiting to be written is dropped. */
  maxBufferedBytes: number;
  /** How often viewer counts are exchanged between nodes and pushed to sockets. */
  viewerIntervalMs: number;
  /** How often sockets are pinged; one that missed the previous ping is terminated. */
  heartbeatMs: number;
  /** Room frames arriving within this long of the room's last send go out together. */
  batchMs?: number;
}

export interface RoomClient {
  socket: WebSocket;
  /** Room frames that arrived while the welcome (with history) was being prepared. */
  pending: RoomFrame[] | null;
  alive: boolean;
}

interface Room {
  channelId: string;
  clients: Set<RoomClient>;
  subscribed: Promise<Unsubscribe>;
  /** Other nodes' socket counts for this channel, as last announced. */
  remote: Map<string, { count: number; at: number }>;
  /** Sockets still waiting for their welcome (their room frames are held back). */
  waiting: Set<RoomClient>;
  /** Serialised frames waiting for the next batch send, and when the room last sent. */
  queue: string[];
  flushTimer: NodeJS.Timeout | null;
  lastSentAt: number;
  /** How long the last send to every socket took: a room whose sends are slow batches for longer. */
  lastLoopMs: number;
}

// A socket dropped for being slow gets its close frame queued; if it cannot even read that, cut it.
const DROP_GRACE_MS = 2000;
const MAX_PENDING = 1000;
// ws's public frame builder (not in @types/ws): a room's batch is framed once, not once per socket.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] } };
const TEXT_OPCODE = 1;
const DEFAULT_BATCH_MS = 100;

export class ChatRooms {
  readonly nodeId = randomUUID();
  private readonly rooms = new Map<string, Room>();
  private readonly timers: NodeJS.Timeout[];
  private readonly log: Logger;
  dropped = 0;

  constructor(private readonly opts: RoomsOptions) {
    this.log = opts.log;
    this.timers = [setInterval(() => this.announce(), opts.viewerIntervalMs), setInterval(() => this.heartbeat(), opts.heartbeatMs)];
    for (const t of this.timers) t.unref();
  }

  /** Adds a socket to its channel's room; its room frames are held back until `ready`. */
  async join(channelId: string, socket: WebSocket): Promise<{ client: RoomClient; ready: (skipIds: Set<string>) => void; leave: () => void }> {
    const room = this.room(channelId);
    const client: RoomClient = { socket, pending: [], alive: true };
    room.clients.add(client);
    room.waiting.add(client);
    socket.on('pong', () => (client.alive = true));
    const leave = () => this.leave(room, client);
    try {
      await room.subscribed;
    } catch (err) {
      leave();
      throw err;
    }
    const ready = (skipIds: Set<string>) => {
      // Whatever the room has queued is also in `held`: send it to the others first, so this
      // socket gets it once, from `held`.
      this.flush(room);
      const held = client.pending ?? [];
      client.pending = null;
      room.waiting.delete(client);
      for (const frame of held) if (!(frame.type === 'message' && skipIds.has(frame.message.id))) this.sendTo(client, frame);
    };
    return { client, ready, leave };
  }

  /** Sockets of a channel on every node (this one counted live, others as last announced). */
  viewers(channelId: string): number {
    const room = this.rooms.get(channelId);
    if (!room) return 0;
    const cutoff = Date.now() - this.opts.viewerIntervalMs * 3;
    let count = room.clients.size;
    for (const [node, entry] of room.remote) {
      if (entry.at < cutoff) room.remote.delete(node);
      else count += entry.count;
    }
    return count;
  }

  localCount(channelId?: string): number {
    if (channelId !== undefined) return this.rooms.get(channelId)?.clients.size ?? 0;
    let n = 0;
    for (const room of this.rooms.values()) n += room.clients.size;
    return n;
  }

  /** Sends one frame to one socket, dropping the socket when it is too far behind. */
  sendTo(client: RoomClient, frame: ServerFrame): void {
    this.write(client, JSON.stringify(frame));
  }

  /** Closes every socket (server shutting down) and leaves the bus. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const rooms = [...this.rooms.values()];
    for (const room of rooms) if (room.flushTimer) clearTimeout(room.flushTimer);
    this.rooms.clear();
    for (const room of rooms) for (const client of room.clients) client.socket.close(CLOSE.GOING_AWAY, 'server shutting down');
    await Promise.all(rooms.map((room) => room.subscribed.then((unsubscribe) => unsubscribe()).catch(() => {})));
  }

  private room(channelId: string): Room {
    let room = this.rooms.get(channelId);
    if (room) return room;
    const created: Room = { channelId, clients: new Set(), remote: new Map(), subscribed: Promise.resolve(async () => {}), waiting: new Set(), queue: [], flushTimer: null, lastSentAt: 0, lastLoopMs: 0 };
    created.subscribed = this.opts.bus.subscribe(chatTopic(channelId), (event) => this.deliver(created, event as TopicEvent));
    // A failed subscription is reported to the joining socket; forget it so the next join retries.
    created.subscribed.catch(() => this.rooms.get(channelId) === created && this.rooms.delete(channelId));
    this.rooms.set(channelId, created);
    return created;
  }

  private leave(room: Room, client: RoomClient): void {
    room.waiting.delete(client);
    if (!room.clients.delete(client) || room.clients.size > 0 || this.rooms.get(room.channelId) !== room) return;
    this.rooms.delete(room.channelId);
    if (room.flushTimer) clearTimeout(room.flushTimer);
    room.subscribed.then((unsubscribe) => unsubscribe()).catch((err) => this.log.warn({ err }, 'leaving a chat topic failed'));
  }

  private deliver(room: Room, event: TopicEvent): void {
    if (event.type === 'presence') {
      if (event.node !== this.nodeId) room.remote.set(event.node, { count: event.count, at: Date.now() });
      return;
    }
    // Sockets still waiting for their welcome hold frames back (in order) until it is sent.
    for (const client of room.waiting) {
      if (!client.pending) continue;
      if (client.pending.length < MAX_PENDING) client.pending.push(event);
      else this.drop(client);
    }
    room.queue.push(JSON.stringify(event));
    if (room.flushTimer) return;
    // Sending to every socket may take at most about half of the time between sends, so a huge
    // busy room cannot take the whole event loop (and the clients' CPU) for its writes.
    const batchMs = Math.max(this.opts.batchMs ?? DEFAULT_BATCH_MS, room.lastLoopMs * 2);
    const wait = room.lastSentAt + batchMs - Date.now();
    if (wait <= 0) this.flush(room);
    else room.flushTimer = setTimeout(() => this.flush(room), wait);
  }

  /** Sends the room's queued frames to every ready socket: one frame, or one `batch` of several. */
  private flush(room: Room): void {
    if (room.flushTimer) clearTimeout(room.flushTimer);
    room.flushTimer = null;
    const queued = room.queue;
    if (queued.length === 0) return;
    room.queue = [];
    room.lastSentAt = Date.now();
    const text = queued.length === 1 ? queued[0]! : `{"type":"batch","frames":[${queued.join(',')}]}`;
    const started = performance.now();
    this.broadcast(room, text);
    room.lastLoopMs = performance.now() - started;
  }

  /**
   * One text frame to every ready socket of the room, encoded and framed once. Written straight to
   * the TCP socket: one write per socket instead of ws's corked header + payload (measured: the
   * send loop is nearly all socket writes at 5,000 sockets). Without compression ws keeps no queue
   * of its own, so this cannot reorder frames, and bufferedAmount still counts these bytes.
   */
  private broadcast(room: Room, text: string): void {
    const parts = Sender.frame(Buffer.from(text), { fin: true, opcode: TEXT_OPCODE, mask: false, readOnly: false, rsv1: false });
    const frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    for (const client of room.clients) if (!client.pending) this.writeFramed(client, frame);
  }

  private write(client: RoomClient, text: string): void {
    const { socket } = client;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.opts.maxBufferedBytes) return this.drop(client);
    socket.send(text);
  }

  private writeFramed(client: RoomClient, frame: Buffer): void {
    const { socket } = client;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.opts.maxBufferedBytes) return this.drop(client);
    (socket as unknown as { _socket: import('node:net').Socket })._socket.write(frame);
  }

  private drop(client: RoomClient): void {
    const { socket } = client;
    if (socket.readyState !== socket.OPEN) return;
    this.dropped++;
    for (const room of this.rooms.values()) if (room.clients.has(client)) this.leave(room, client);
    this.log.info({ buffered: socket.bufferedAmount }, 'chat socket dropped: too slow to keep up');
    socket.close(CLOSE.TRY_LATER, 'too slow: reconnect later');
    setTimeout(() => socket.terminate(), DROP_GRACE_MS).unref();
  }

  private announce(): void {
    for (const room of this.rooms.values()) {
      this.opts.bus
        .publish(chatTopic(room.channelId), { type: 'presence', node: this.nodeId, count: room.clients.size } satisfies TopicEvent)
        .catch((err) => this.log.warn({ err }, 'announcing chat presence failed'));
      this.broadcast(room, JSON.stringify({ type: 'viewers', count: this.viewers(room.channelId) } satisfies ServerFrame));
    }
  }

  private heartbeat(): void {
    for (const room of this.rooms.values()) {
      for (const client of room.clients) {
        if (!client.alive) {
          client.socket.terminate();
          continue;
        }
        client.alive = false;
        client.socket.ping();
      }
    }
  }
}
