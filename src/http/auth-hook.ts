// Resolves `Authorization: Bearer <access token>` to a user before the handler runs.
import type { FastifyRequest } from 'fastify';
import type { AccountService, PublicUser } from '../accounts/account-service.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user?: PublicUser;
    /** The refresh-token family of the access token that signed the request in (null: a token from before families). */
    tokenFamily?: string | null;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_.-]{1,2048})$/;

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = BEARER.exec(header);
  if (!match) throw new AppError('TOKEN_INVALID', 'Send the access token as "Authorization: Bearer <token>".');
  return match[1]!;
}

export function requireUser(accounts: AccountService) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (token === null) throw new AppError('UNAUTHENTICATED');
    const { user, familyId } = await accounts.authenticateSession(token);
    request.user = user;
    request.tokenFamily = familyId;
  };
}

/** requireUser, then the instance role: staff ('moderator' or 'admin') or 'admin' only; 403 to everyone else. */
export function requireRole(accounts: AccountService, level: 'staff' | 'admin') {
  const signedIn = requireUser(accounts);
  return async (request: FastifyRequest): Promise<void> => {
    await signedIn(request);
    const role = request.user!.role;
    const allowed = level === 'admin' ? role === 'admin' : role === 'admin' || role === 'moderator';
    if (!allowed) throw new AppError('FORBIDDEN', level === 'admin' ? 'Only instance admins may do that.' : 'Only instance admins and moderators may do that.');
  };
}

/** The signed-in user of a route guarded by requireUser. */
export function currentUser(request: FastifyRequest): PublicUser {
  if (!request.user) throw new AppError('UNAUTHENTICATED');
  return request.user;
}
