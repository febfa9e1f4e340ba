// Chat refusals with stable codes. Over the socket they become error frames; over REST they map
// onto the API's catalogue (src/errors.ts), keeping the chat code in details.
import { AppError, type ErrorCode } from '../src/errors.ts';
import type { ErrorFrame } from './chat-protocol.ts';

export const CHAT_ERRORS = {
  INVALID_FRAME: { http: 'VALIDATION', message: 'The frame is invalid.' },
  UNAUTHENTICATED: { http: 'UNAUTHENTICATED', message: 'Sign in to chat: send {"type":"auth","token":"<access token>"} first.' },
  MESSAGE_EMPTY: { http: 'VALIDATION', message: 'The message is empty.' },
  MESSAGE_TOO_LONG: { http: 'VALIDATION', message: 'Messages are at most 500 characters.' },
  RATE_LIMITED: { http: 'RATE_LIMITED', message: 'You are sending messages too fast.' },
  SLOW_MODE: { http: 'RATE_LIMITED', message: 'Slow mode is on.' },
  TIMED_OUT: { http: 'FORBIDDEN', message: 'You are timed out in this chat.' },
  BANNED: { http: 'FORBIDDEN', message: 'You are banned from this chat.' },
  FORBIDDEN: { http: 'FORBIDDEN', message: 'Only the channel owner and its moderators may do that.' },
  NOT_FOUND: { http: 'NOT_FOUND', message: 'Not found.' },
  TOO_MANY_CONNECTIONS: { http: 'RATE_LIMITED', message: 'This account has too many chat connections open; close one and sign in again.' },
} as const satisfies Record<string, { http: ErrorCode; message: string }>;

export type ChatErrorCode = keyof typeof CHAT_ERRORS;

export class ChatError extends Error {
  constructor(
    readonly code: ChatErrorCode,
    message?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message ?? CHAT_ERRORS[code].message);
    this.name = 'ChatError';
  }

  toAppError(): AppError {
    const details: Record<string, unknown> = { chatCode: this.code };
    if (this.retryAfterMs !== undefined) details.retryAfterMs = this.retryAfterMs;
    return new AppError(CHAT_ERRORS[this.code].http, this.message, details);
  }
}

/** The error frame for anything a frame handler threw; unexpected errors say nothing internal. */
export function errorFrame(err: unknown, nonce?: string): ErrorFrame {
  const extra = nonce === undefined ? {} : { nonce };
  if (err instanceof ChatError) {
    return { type: 'error', code: err.code, message: err.message, ...extra, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  if (err instanceof AppError) return { type: 'error', code: err.code, message: err.message, ...extra };
  return { type: 'error', code: 'INTERNAL', message: 'Something went wrong on our side.', ...extra };
}
