// GET /chat/:slug: the chat WebSocket of one channel. Anyone may connect and read. Posting and
// moderating need a first {"type":"auth","token":"<access token>"} frame: browsers cannot set an
// Authorization header on a WebSocket, a token in the URL or Sec-WebSocket-Protocol ends up in
// proxy logs, and a frame lets a client sign in or refresh its token without reconnecting. It
// also means no ambient credential (cookie) rides on the upgrade, so cross-site pages gain nothing.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { decodeJwt } from 'jose';
import { Type } from 'typebox';
import type { RawData, WebSocket } from 'ws';
import type { AccountService } from '../src/accounts/account-service.ts';
import type { ChannelService } from '../src/channels/channel-service.ts';
import { AppError } from '../src/errors.ts';
import { Slug, errors } from '../src/http/schemas.ts';
import type { Logger } from '../src/log.ts';
import { ChatError, errorFrame } from './chat-errors.ts';
import { CLOSE, parseClientFrame, type ChatUser, type ClientFrame } from './chat-protocol.ts';
import type { ChatRooms, RoomClient } from './chat-rooms.ts';
import type { ChatChannel, ChatService } from './chat-service.ts';
import { SocketCounter, addressKey } from './socket-limits.ts';

export interface ChatSocketOptions {
  service: ChatService;
  rooms: ChatRooms;
  accounts: Pick<AccountService, 'authenticate'>;
  channels: Pick<ChannelService, 'bySlug'>;
  log: Logger;
  /** Frames of any kind one socket may send: a burst, then a sustained rate; past it the socket is closed. */
  flood: { burst: number; perSecond: number };
  /** Sockets one address (IPv6: one /64) may hold open on this node, and one account may sign in on. */
  maxSockets: { perAddress: number; perUser: number };
}

interface SocketState {
  channel: ChatChannel;
  client: RoomClient | null;
  user: ChatUser | null;
  /** The access token the socket signed in with, checked again before every action. */
  token: string | null;
  /** When that token expires (ms since epoch). */
  authExpiresAt: number;
  tokens: number;
  refilledAt: number;
}

export const chatSocketRoute: FastifyPluginAsync<ChatSocketOptions> = async (fastify, opts) => {
  const { service, rooms, log } = opts;
  // The WebSocket plugin is the app kernel's (src/http/app.ts): one per server, shared by every
  // room with a socket route. Shutting down, chat tells its clients why (1001) before the kernel
  // closes whatever sockets remain.
  fastify.addHook('preClose', async () => {
    await rooms.close();
  });
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const channelOf = new WeakMap<FastifyRequest, ChatChannel>();
  const perAddress = new SocketCounter(opts.maxSockets.perAddress);
  const perUser = new SocketCounter(opts.maxSockets.perUser);

  app.get(
    '/chat/:slug',
    {
      websocket: true,
      schema: { params: Type.Object({ slug: Slug }), response: errors(400, 404, 429) },
      // Runs before the upgrade: an unknown channel is a plain 404, no socket is opened.
      preHandler: async (request) => {
        const channel = await opts.channels.bySlug((request.params as { slug: string }).slug);
        if (!channel) throw new AppError('NOT_FOUND', 'No such channel.');
        channelOf.set(request, { id: channel.id, slug: channel.slug, ownerId: channel.ownerId });
        // Counted until the TCP connection closes, which is when the WebSocket on it closes too.
        // request.ip is the X-Forwarded-For client when TRUST_PROXY is set.
        if (request.headers.upgrade?.toLowerCase() !== 'websocket') return;
        const key = addressKey(request.ip);
        if (!perAddress.tryAcquire(key)) {
          log.info({ address: key, max: perAddress.max }, 'chat socket refused: too many from one address');
          throw new AppError('RATE_LIMITED', `Too many chat connections from your address (at most ${perAddress.max}); close one and try again.`);
        }
        request.raw.socket.once('close', () => perAddress.release(key));
      },
    },
    (socket, request) => {
      const channel = channelOf.get(request)!;
      const state: SocketState = { channel, client: null, user: null, token: null, authExpiresAt: 0, tokens: opts.flood.burst, refilledAt: Date.now() };
      const send = (frame: Parameters<ChatRooms['sendTo']>[1]) => state.client && rooms.sendTo(state.client, frame);
      // Frames are handled one at a time, in order: an auth frame takes effect before the post after it.
      let chain: Promise<void> = join(state, socket);
      let leave = () => {};

      async function join(s: SocketState, ws: WebSocket): Promise<void> {
        try {
          const joined = await rooms.join(s.channel.id, ws);
          s.client = joined.client;
          leave = joined.leave;
          if (ws.readyState !== ws.OPEN) return leave();
          const [history, slowModeS] = await Promise.all([service.history(s.channel.id), service.slowMode(s.channel.id)]);
          send({ type: 'welcome', channel: { id: s.channel.id, slug: s.channel.slug }, history, slowModeS, viewers: rooms.viewers(s.channel.id) });
          joined.ready(new Set(history.map((m) => m.id)));
        } catch (err) {
          log.error({ err, channelId: s.channel.id }, 'joining a chat room failed');
          ws.close(1011, 'could not join the chat');
        }
      }

      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (socket.readyState !== socket.OPEN) return;
        if (isBinary) return socket.close(CLOSE.UNSUPPORTED, 'binary frames are not accepted; send JSON text');
        if (!takeFrameToken(state, opts.flood)) {
          log.info({ channelId: channel.id, userId: state.user?.id }, 'chat socket closed: flooding');
          return socket.close(CLOSE.POLICY, 'too many frames');
        }
        const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
        chain = chain.then(() => handle(text)).catch((err) => log.error({ err }, 'chat frame handling failed'));
      });
      socket.on('close', () => {
        leave();
        signOut(state, perUser);
      });

      async function handle(text: string): Promise<void> {
        if (socket.readyState !== socket.OPEN) return;
        const parsed = parseClientFrame(text);
        if ('error' in parsed) return void send({ type: 'error', code: 'INVALID_FRAME', message: parsed.error });
        const frame = parsed.frame;
        const nonce = frame.type === 'post' ? frame.nonce : undefined;
        try {
          await apply(frame);
        } catch (err) {
          if (!(err instanceof ChatError || err instanceof AppError)) log.error({ err, type: frame.type }, 'chat frame failed');
          send(errorFrame(err, nonce));
        }
      }

      async function apply(frame: ClientFrame): Promise<void> {
        if (frame.type === 'auth') {
          const user = await opts.accounts.authenticate(frame.token);
          // Closed meanwhile: the close handler has already given back this socket's places.
          if (socket.readyState !== socket.OPEN) return;
          if (state.user?.id !== user.id) {
            if (!perUser.tryAcquire(user.id)) {
              throw new ChatError('TOO_MANY_CONNECTIONS', `This account has ${perUser.max} chat connections open on this server; close one and sign in again.`);
            }
            signOut(state, perUser);
          }
          state.user = { id: user.id, username: user.username };
          state.token = frame.token;
          state.authExpiresAt = (decodeJwt(frame.token).exp ?? 0) * 1000;
          return void send({ type: 'authed', user: state.user, role: await service.role(channel, user.id) });
        }
        const user = await signedIn(state, opts.accounts, perUser);
        switch (frame.type) {
          case 'post': {
            const message = await service.post(channel, user, frame.text);
            return void send({ type: 'ack', messageId: message.id, ...(frame.nonce !== undefined ? { nonce: frame.nonce } : {}) });
          }
          case 'delete':
            return service.deleteMessage(channel, user, frame.messageId);
          case 'timeout':
            return service.restrict(channel, user, frame.username, frame.seconds, frame.reason);
          case 'ban':
            return service.restrict(channel, user, frame.username, null, frame.reason);
          case 'unban':
            return service.unban(channel, user, frame.username);
          case 'slow-mode':
            return service.setSlowMode(channel, user, frame.seconds);
        }
      }
    },
  );
};

/**
 * The socket's user, if its token still holds: checked before every action (one indexed query, as
 * for an HTTP request), so a session signed out or revoked loses posting and moderation rights
 * from its next frame on, on every node, not when the token expires.
 */
async function signedIn(state: SocketState, accounts: ChatSocketOptions['accounts'], perUser: SocketCounter): Promise<ChatUser> {
  if (!state.user || state.token === null) throw new ChatError('UNAUTHENTICATED');
  if (Date.now() >= state.authExpiresAt) {
    signOut(state, perUser);
    throw new AppError('TOKEN_EXPIRED', 'The access token has expired; send a new auth frame.');
  }
  const { token, user } = state;
  try {
    await accounts.authenticate(token);
  } catch (err) {
    // Unless a newer auth frame replaced the token meanwhile.
    if (err instanceof AppError && err.status === 401 && state.token === token) signOut(state, perUser);
    throw err;
  }
  return user;
}

/** Forgets the socket's user and gives back its place in the user's socket count. */
function signOut(state: SocketState, perUser: SocketCounter): void {
  if (state.user) perUser.release(state.user.id);
  state.user = null;
  state.token = null;
}

/** A per-socket token bucket (in memory: a flood is a property of one connection, not of a user). */
function takeFrameToken(state: SocketState, flood: ChatSocketOptions['flood']): boolean {
  const now = Date.now();
  state.tokens = Math.min(flood.burst, state.tokens + ((now - state.refilledAt) / 1000) * flood.perSecond);
  state.refilledAt = now;
  if (state.tokens < 1) return false;
  state.tokens -= 1;
  return true;
}
