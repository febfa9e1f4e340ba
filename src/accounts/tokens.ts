// Access tokens are short-lived JWTs (HS256, 15 minutes); refresh tokens are opaque random strings
// stored only as their SHA-256, so a database leak does not hand out sessions. An access token
// names its refresh-token family (`fam`), so revoking the family revokes it too without waiting
// for it to expire.
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError } from '../errors.ts';

export const ACCESS_TOKEN_TTL_S = 15 * 60;
export const REFRESH_TOKEN_TTL_S = 7 * 24 * 3600;
const ISSUER = 'spillway';

export interface AccessClaims {
  userId: string;
  /** The refresh-token family that issued it; null for tokens signed before families were named. */
  familyId: string | null;
  /** Seconds since the epoch. */
  issuedAtS: number;
}

export async function signAccessToken(key: Buffer, userId: string, familyId: string, nowS = Math.floor(Date.now() / 1000)): Promise<string> {
  return new SignJWT({ typ: 'access', fam: familyId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ACCESS_TOKEN_TTL_S)
    .sign(key);
}

/** Checks signature and expiry only (revocation is the account service's job); throws TOKEN_EXPIRED / TOKEN_INVALID. */
export async function verifyAccessToken(key: Buffer, token: string): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ['HS256'] });
    if (payload.typ !== 'access' || typeof payload.sub !== 'string') throw new AppError('TOKEN_INVALID');
    if (payload.fam !== undefined && typeof payload.fam !== 'string') throw new AppError('TOKEN_INVALID');
    return { userId: payload.sub, familyId: payload.fam ?? null, issuedAtS: payload.iat ?? 0 };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AppError('TOKEN_EXPIRED');
    throw new AppError('TOKEN_INVALID');
  }
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
