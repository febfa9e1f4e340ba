// The chat wire protocol: JSON text frames with a `type`. Client frames are validated against
// these schemas; server frames are typed by them (and documented by them for client authors).
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

export const MAX_MESSAGE_CHARS = 500;
export const MAX_FRAME_BYTES = 4 * 1024;

const Username = Type.String({ pattern: '^[A-Za-z0-9_]{3,25}$' });
const Reason = Type.String({ maxLength: 200 });
const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const closed = { additionalProperties: false } as const;

// ── client → server ──────────────────────────────────────────────────────────────────────────

/** Signs the socket in (or re-signs it when the access token was refreshed). */
export const AuthFrame = Type.Object({ type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 2048 }) }, closed);
/** `nonce` is echoed in the ack or error, so a client can match replies to its posts. */
export const PostFrame = Type.Object(
  { type: Type.Literal('post'), text: Type.String({ maxLength: 4 * MAX_MESSAGE_CHARS }), nonce: Type.Optional(Type.String({ maxLength: 64 })) },
  closed,
);
export const DeleteFrame = Type.Object({ type: Type.Literal('delete'), messageId: Uuid }, closed);
export const TimeoutFrame = Type.Object(
  { type: Type.Literal('timeout'), username: Username, seconds: Type.Integer({ minimum: 1, maximum: 14 * 86400 }), reason: Type.Optional(Reason) },
  closed,
);
export const BanFrame = Type.Object({ type: Type.Literal('ban'), username: Username, reason: Type.Optional(Reason) }, closed);
export const UnbanFrame = Type.Object({ type: Type.Literal('unban'), username: Username }, closed);
export const SlowModeFrame = Type.Object({ type: Type.Literal('slow-mode'), seconds: Type.Integer({ minimum: 0, maximum: 86400 }) }, closed);

export const ClientFrame = Type.Union([AuthFrame, PostFrame, DeleteFrame, TimeoutFrame, BanFrame, UnbanFrame, SlowModeFrame]);
export type ClientFrame = Static<typeof ClientFrame>;

const clientFrame = Compile(ClientFrame);
const CLIENT_TYPES = new Set(['auth', 'post', 'delete', 'timeout', 'ban', 'unban', 'slow-mode']);

/** Parses one text frame; the error says what is wrong in words a client developer can act on. */
export function parseClientFrame(text: string): { frame: ClientFrame } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'The frame is not valid JSON.' };
  }
  if (clientFrame.Check(value)) return { frame: value };
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !CLIENT_TYPES.has(type)) return { error: `Unknown frame type; expected one of ${[...CLIENT_TYPES].join(', ')}.` };
  // The union's errors mention every branch; check against the branch the client meant.
  const branch = ClientFrame.anyOf.find((s) => s.properties.type.const === type)!;
  const first = Compile(branch).Errors(value)[0];
  return { error: `Invalid "${type}" frame${first ? `: ${first.instancePath || '/'} ${first.message}` : ''}.` };
}

// ── server → client ──────────────────────────────────────────────────────────────────────────

export const ChatUser = Type.Object({ id: Type.String(), username: Type.String() });
export type ChatUser = Static<typeof ChatUser>;

export const ChatMessage = Type.Object({
  id: Type.String(),
  user: ChatUser,
  text: Type.String({ description: 'Plain text: clients render it as text, never as HTML.' }),
  createdAt: Type.String({ format: 'date-time' }),
  /** Milliseconds into the live session, null when the channel was offline. */
  offsetMs: Type.Union([Type.Integer(), Type.Null()]),
});
export type ChatMessage = Static<typeof ChatMessage>;

export const Role = Type.Union([Type.Literal('owner'), Type.Literal('moderator'), Type.Literal('viewer')]);
export type Role = Static<typeof Role>;

export const WelcomeFrame = Type.Object({
  type: Type.Literal('welcome'),
  channel: Type.Object({ id: Type.String(), slug: Type.String() }),
  history: Type.Array(ChatMessage, { description: 'The last messages, oldest first.' }),
  slowModeS: Type.Integer(),
  viewers: Type.Integer(),
});
export const AuthedFrame = Type.Object({ type: Type.Literal('authed'), user: ChatUser, role: Role });
export const MessageFrame = Type.Object({ type: Type.Literal('message'), message: ChatMessage });
export const AckFrame = Type.Object({ type: Type.Literal('ack'), nonce: Type.Optional(Type.String()), messageId: Type.String() });
export const DeletedFrame = Type.Object({ type: Type.Literal('deleted'), messageId: Type.String() });
export const SlowModeChangedFrame = Type.Object({ type: Type.Literal('slow-mode'), seconds: Type.Integer() });
export const ModerationFrame = Type.Object({
  type: Type.Literal('moderation'),
  action: Type.Union([Type.Literal('timeout'), Type.Literal('ban'), Type.Literal('unban')]),
  user: ChatUser,
  until: Type.Optional(Type.String({ format: 'date-time' })),
});
export const ViewersFrame = Type.Object({ type: Type.Literal('viewers'), count: Type.Integer() });
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  nonce: Type.Optional(Type.String()),
  /** When the refusal is temporary: how long until the client may try again. */
  retryAfterMs: Type.Optional(Type.Integer()),
});

/** Several room frames (message, deleted, slow-mode, moderation) sent together by a busy room; handle each in order. */
export const BatchFrame = Type.Object({
  type: Type.Literal('batch'),
  frames: Type.Array(Type.Union([MessageFrame, DeletedFrame, SlowModeChangedFrame, ModerationFrame])),
});

export const ServerFrame = Type.Union([WelcomeFrame, BatchFrame, AuthedFrame, MessageFrame, AckFrame, DeletedFrame, SlowModeChangedFrame, ModerationFrame, ViewersFrame, ErrorFrame]);
export type ServerFrame = Static<typeof ServerFrame>;
/** Frames every socket of a channel receives, on every node (carried by the bus). */
export type RoomFrame = Static<typeof MessageFrame> | Static<typeof DeletedFrame> | Static<typeof SlowModeChangedFrame> | Static<typeof ModerationFrame>;
export type ErrorFrame = Static<typeof ErrorFrame>;

// WebSocket close codes (RFC 6455 §7.4.1), each for one way a socket is dropped.
export const CLOSE = {
  GOING_AWAY: 1001, // server shutting down
  UNSUPPORTED: 1003, // a binary frame
  INVALID_DATA: 1007, // a text frame that is not UTF-8 (sent by ws itself)
  POLICY: 1008, // flooding
  TOO_BIG: 1009, // a frame over MAX_FRAME_BYTES (sent by ws itself, through maxPayload)
  TRY_LATER: 1013, // too slow to keep up with the room: reconnect later
} as const;

export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
