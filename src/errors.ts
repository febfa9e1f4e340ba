// One catalogue of errors the API can answer with: a stable code, an HTTP status and a message a
// client can show. Routes throw AppError; the error handler turns it into
// { "error": { "code", "message" } }.
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  BAD_URL: { status: 400, message: 'The URL is malformed (bad percent-encoding).' },
  VALIDATION: { status: 400, message: 'The request does not match the schema.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNAUTHENTICATED: { status: 401, message: 'Sign in first.' },
  TOKEN_INVALID: { status: 401, message: 'The access token is invalid.' },
  TOKEN_EXPIRED: { status: 401, message: 'The access token has expired.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong username or password.' },
  REFRESH_INVALID: { status: 401, message: 'The refresh token is invalid or expired.' },
  REFRESH_REUSED: { status: 401, message: 'The refresh token was already used; every session of this login was signed out.' },
  FORBIDDEN: { status: 403, message: 'You may not do that.' },
  WRONG_PASSWORD: { status: 403, message: 'The current password is wrong.' },
  ACCOUNT_SUSPENDED: { status: 403, message: 'This account is suspended.' },
  ACCOUNT_PENDING: { status: 403, message: 'This account is waiting for an admin to approve it.' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Verify your email address first (see the link we sent you).' },
  REGISTRATION_CLOSED: { status: 403, message: 'This instance is not accepting new accounts.' },
  INVITE_REQUIRED: { status: 403, message: 'Signing up here needs an invite link.' },
  INVITE_INVALID: { status: 403, message: 'This invite link is invalid, expired or used up.' },
  LINK_INVALID: { status: 400, message: 'This link is invalid, expired or already used.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  USERNAME_TAKEN: { status: 409, message: 'That username is taken.' },
  EMAIL_TAKEN: { status: 409, message: 'That email is already registered.' },
  LAST_ADMIN: { status: 409, message: 'The instance must keep at least one admin.' },
  ALREADY_REPORTED: { status: 409, message: 'You have already reported this; it is waiting for a moderator.' },
  ALREADY_RESOLVED: { status: 409, message: 'This report was already resolved.' },
  CANNOT_FOLLOW_SELF: { status: 400, message: 'You cannot follow your own channel.' },
  ALREADY_FOLLOWING: { status: 409, message: 'You already follow this channel.' },
  ALREADY_LIKED: { status: 409, message: 'You already like this.' },
  REPLY_TO_REPLY: { status: 400, message: 'Replies go under a top-level comment, not under another reply.' },
  PARENT_DELETED: { status: 409, message: 'The comment you are replying to was deleted.' },
  COMMENT_DELETED: { status: 409, message: 'This comment was deleted.' },
  WEBHOOK_URL_INVALID: { status: 400, message: 'The webhook URL must be an https:// URL (or http:// to a loopback address where allowed).' },
  WEBHOOK_URL_FORBIDDEN: { status: 400, message: 'The webhook URL points at a private, loopback or otherwise internal address.' },
  TOO_MANY_WEBHOOKS: { status: 409, message: 'This channel has as many webhooks as it may have; delete one first.' },
  SEARCH_QUERY_INVALID: { status: 400, message: 'The search has no words to look for.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  URI_TOO_LONG: { status: 414, message: 'A part of the URL is too long.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send JSON (Content-Type: application/json).' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The range asked for is outside the file (see Content-Range for its size).' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  UPLOAD_TOO_LARGE: { status: 413, message: 'The file is larger than this server accepts.' },
  UPLOAD_LENGTH_REQUIRED: { status: 411, message: 'Say the file size first (the Upload-Length header).' },
  STORAGE_QUOTA_EXCEEDED: { status: 403, message: 'This channel has reached its storage limit; delete videos to make room.' },
  TOO_MANY_UPLOADS: { status: 429, message: 'You have too many uploads in progress; finish or cancel one first.' },
  UPLOAD_EXPIRED: { status: 410, message: 'This upload expired; start it again.' },
  RATE_LIMITED: { status: 429, message: 'Too many attempts; try again later.' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side.' },
  UNAVAILABLE: { status: 503, message: 'A backing service is unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}
