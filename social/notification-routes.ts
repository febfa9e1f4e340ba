// /api/v1/notifications: the signed-in user's notifications, the unread count, marking them read,
// and GET /api/v1/notifications/socket, a WebSocket that pushes new ones at once. As with chat,
// the socket signs in with a first {"type":"auth","token"} frame (never a token in the URL), and
// may send a fresh token the same way when the old one nears expiry.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RawData } from 'ws';
import type { AccountService } from '../src/accounts/account-service.ts';
import { AppError } from '../src/errors.ts';
import { currentUser, requireUser } from '../src/http/auth-hook.ts';
import { errors } from '../src/http/schemas.ts';
import type { Logger } from '../src/log.ts';
import { send, type HubClient, type NotificationHub } from './notification-hub.ts';
import type { NotificationStore } from './notification-store.ts';

export interface NotificationRoutesOptions {
  store: NotificationStore;
  hub: NotificationHub;
  accounts: Pick<AccountService, 'authenticate'>;
  log: Logger;
  /** Notification sockets one account may hold open on one node (tabs and devices). */
  maxSocketsPerUser: number;
}

const NotificationBody = Type.Object({
  id: Type.String(),
  kind: Type.String({ enum: ['live', 'video', 'report'] }),
  channel: Type.Union([Type.Object({ slug: Type.String(), title: Type.String() }), Type.Null()]),
  subjectId: Type.String(),
  videoTitle: Type.Union([Type.String(), Type.Null()]),
  report: Type.Union([Type.Object({ status: Type.String(), targetKind: Type.String(), note: Type.String() }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  read: Type.Boolean(),
});
const AUTH_FRAME_MAX = 4096;
const TOKEN = /^[A-Za-z0-9_.-]{1,2048}$/;
/** A socket that has not signed in by then is closed: a reader of nobody's notifications. */
const AUTH_DEADLINE_MS = 10_000;
/** Frames a socket may send: a few at once, then one a second (it only ever sends auth frames). */
const FRAME_BURST = 5;
const FRAMES_PER_S = 1;
const HEARTBEAT_MS = 30_000;

export const notificationRoutes: FastifyPluginAsync<NotificationRoutesOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store, hub, log } = opts;
  const auth = requireUser(opts.accounts as AccountService);

  app.get(
    '/notifications',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'Your notifications, newest first, with the unread count.',
        security: [{ bearer: [] }],
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 30 }), before: Type.Optional(Type.String({ format: 'uuid' })) }),
        response: { 200: Type.Object({ notifications: Type.Array(NotificationBody), unread: Type.Integer(), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401) },
      },
    },
    async (request) => store.list(currentUser(request).id, request.query.limit, request.query.before),
  );

  app.get(
    '/notifications/unread',
    { preHandler: auth, schema: { tags: ['social'], security: [{ bearer: [] }], response: { 200: Type.Object({ unread: Type.Integer() }), ...errors(401) } } },
    async (request) => ({ unread: await store.unread(currentUser(request).id) }),
  );

  app.post(
    '/notifications/read',
    {
      preHandler: auth,
      schema: {
        tags: ['social'],
        summary: 'Mark notifications read: the given ids, or all of them.',
        security: [{ bearer: [] }],
        body: Type.Union([
          Type.Object({ ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
          Type.Object({ all: Type.Literal(true) }, { additionalProperties: false }),
        ]),
        response: { 200: Type.Object({ unread: Type.Integer() }), ...errors(400, 401) },
      },
    },
    async (request) => ({ unread: await store.markRead(currentUser(request).id, 'ids' in request.body ? request.body.ids : 'all') }),
  );

  app.get('/notifications/socket', { websocket: true, schema: { summary: 'Pushes new notifications (WebSocket).' } }, (socket) => {
    let client: HubClient | null = null;
    let token: string | null = null;
    let chain: Promise<void> = Promise.resolve();
    let frames = FRAME_BURST;
    let refilledAt = Date.now();
    let alive = true;
    const deadline = setTimeout(() => !client && socket.close(1008, 'sign in within 10 s'), AUTH_DEADLINE_MS);
    // A peer that stops answering pings (a laptop lid closed) is dropped, and its place freed.
    const heartbeat = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, HEARTBEAT_MS);
    socket.on('pong', () => (alive = true));
    const fail = (code: string, message: string) => send(socket, { type: 'error', code, message });
    const stillValid = async () => {
      if (!token) return false;
      try {
        await opts.accounts.authenticate(token);
        return true;
      } catch {
        fail('TOKEN_EXPIRED', 'Send a fresh access token: {"type":"auth","token":"…"}.');
        return false;
      }
    };

    const handle = async (text: string) => {
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        return fail('INVALID_FRAME', 'Frames are JSON text.');
      }
      const f = frame as { type?: unknown; token?: unknown };
      if (typeof frame !== 'object' || frame === null || f.type !== 'auth' || typeof f.token !== 'string' || !TOKEN.test(f.token)) {
        return fail('INVALID_FRAME', 'The only frame is {"type":"auth","token":"<access token>"}.');
      }
      let userId: string;
      try {
        userId = (await opts.accounts.authenticate(f.token)).id;
      } catch (err) {
        return fail(err instanceof AppError ? err.code : 'TOKEN_INVALID', err instanceof AppError ? err.message : 'The access token is invalid.');
      }
      if (socket.readyState !== socket.OPEN) return;
      if (client?.userId !== userId) {
        if (hub.countFor(userId) >= opts.maxSocketsPerUser) return fail('TOO_MANY_CONNECTIONS', 'This account has too many notification sockets open; close a tab.');
        if (client) hub.remove(client);
        client = { socket, userId, stillValid };
        hub.add(client);
      }
      token = f.token;
      send(socket, { type: 'authed', unread: await store.unread(userId) });
    };

    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return socket.close(1003, 'binary frames are not accepted; send JSON text');
      const now = Date.now();
      frames = Math.min(FRAME_BURST, frames + ((now - refilledAt) / 1000) * FRAMES_PER_S);
      refilledAt = now;
      if (frames < 1) return socket.close(1008, 'too many frames');
      frames -= 1;
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      if (text.length > AUTH_FRAME_MAX) return socket.close(1009, 'frame too large');
      chain = chain.then(() => handle(text)).catch((err) => log.error({ err }, 'notification frame failed'));
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      clearInterval(heartbeat);
      if (client) hub.remove(client);
    });
  });
};
