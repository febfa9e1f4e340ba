// JSON calls to the Spillway API. Errors arrive as { error: { code, message, details } } and are
// thrown as ApiError, whose message is written for the person using the page.
import { session } from './session.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Options {
  method?: string;
  body?: unknown;
  /** Send the access token when signed in (required: fail when signed out). */
  auth?: 'required' | 'optional';
}

export async function api<T>(path: string, opts: Options = {}): Promise<T> {
  const send = async (token: string | null) => {
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(path, { method: opts.method ?? 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  };
  let token = opts.auth ? await session.accessToken() : null;
  if (opts.auth === 'required' && !token) throw new ApiError(401, 'UNAUTHENTICATED', 'Sign in first.');
  let res: Response;
  try {
    res = await send(token);
    if (res.status === 401 && token) {
      // Expired early (clock skew) or revoked: one refresh, one retry.
      token = await session.accessToken(true);
      if (token || opts.auth === 'optional') res = await send(token);
    }
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'HTTP_' + res.status, error?.message ?? `The server answered ${res.status}.`, error?.details);
  }
  return body as T;
}
