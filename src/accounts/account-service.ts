// Registration, login, refresh-token rotation with family revocation, logout and account deletion.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RateLimiter } from '../bus/rate-limiter.ts';
import type { ChannelTables } from '../channels/channel-tables.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AccountTables } from './account-tables.ts';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.ts';
import { ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_S, hashToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.ts';

export interface PublicUser {
  id: string;
  username: string;
  email: string;
  createdAt: Date;
}

export interface Session {
  user: PublicUser;
  accessToken: string;
  accessTokenExpiresIn: number;
  refreshToken: string;
}

/** Signing up creates the user's channel in the same transaction, so that table is in reach too. */
export type AccountDb = AccountTables & ChannelTables;

export interface AccountServiceDeps {
  db: Kysely<AccountDb>;
  limiter: RateLimiter;
  jwtKey: Buffer;
  log: Logger;
  loginLimit: { attempts: number; windowS: number };
  /** Called inside the registration transaction to create the user's channel. */
  createChannel: (trx: Kysely<AccountDb>, user: { id: string; username: string }) => Promise<void>;
}

// Names that would collide with the web UI's or the API's own paths, or confuse viewers.
const RESERVED_USERNAMES = new Set(['admin', 'api', 'live', 'vod', 'vods', 'static', 'assets', 'login', 'logout', 'signup', 'settings', 'dashboard', 'spillway', 'root', 'system', 'moderator', 'healthz', 'readyz', 'metrics']);

/** Told after an account is deleted, with the channels that went with it (their streams must end). */
type AccountDeletedListener = (userId: string, channelIds: string[]) => void;

export class AccountService {
  private readonly deletedListeners = new Set<AccountDeletedListener>();

  constructor(private readonly deps: AccountServiceDeps) {}

  onAccountDeleted(listener: AccountDeletedListener): () => void {
    this.deletedListeners.add(listener);
    return () => this.deletedListeners.delete(listener);
  }

  async register(input: { username: string; email: string; password: string }): Promise<Session> {
    const { db } = this.deps;
    if (RESERVED_USERNAMES.has(input.username.toLowerCase())) throw new AppError('USERNAME_TAKEN', 'That username is reserved.');
    await this.assertAvailable(input.username, input.email);
    const passwordHash = await hashPassword(input.password);
    let user: PublicUser;
    try {
      user = await db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('users')
          .values({ username: input.username, email: input.email, password_hash: passwordHash })
          .returning(['id', 'username', 'email', 'created_at'])
          .executeTakeFirstOrThrow();
        await this.deps.createChannel(trx, { id: row.id, username: row.username });
        return toPublicUser(row);
      });
    } catch (err) {
      // Two registrations racing past assertAvailable: the unique index decides.
      if (isUniqueViolation(err)) await this.assertAvailable(input.username, input.email);
      throw err;
    }
    this.deps.log.info({ userId: user.id, username: user.username }, 'user registered');
    return this.startSession(user);
  }

  async login(input: { username: string; password: string; ip: string }): Promise<Session> {
    const { db, limiter, loginLimit } = this.deps;
    const spec = { capacity: loginLimit.attempts, refillPerSecond: loginLimit.attempts / loginLimit.windowS };
    const accountKey = `login:account:${input.username.toLowerCase()}`;
    for (const key of [`login:ip:${input.ip}`, accountKey]) {
      const result = await limiter.take(key, spec);
      if (!result.allowed) {
        throw new AppError('RATE_LIMITED', 'Too many sign-in attempts; try again later.', { retryAfterMs: result.retryAfterMs });
      }
    }
    const row = await db
      .selectFrom('users')
      .select(['id', 'username', 'email', 'created_at', 'password_hash'])
      .where((eb) => eb(eb.fn('lower', ['username']), '=', input.username.toLowerCase()))
      .executeTakeFirst();
    if (!row) {
      await burnPasswordCheck(input.password);
      throw new AppError('INVALID_CREDENTIALS');
    }
    if (!(await verifyPassword(row.password_hash, input.password))) {
      this.deps.log.info({ userId: row.id, ip: input.ip }, 'login failed: wrong password');
      throw new AppError('INVALID_CREDENTIALS');
    }
    await limiter.resetBucket(accountKey);
    return this.startSession(toPublicUser(row));
  }

  /** Rotates a refresh token. A token presented twice revokes its whole family. */
  async refresh(refreshToken: string): Promise<Session> {
    const { db, log } = this.deps;
    const tokenHash = hashToken(refreshToken);
    const row = await db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    if (!row || row.revoked_at) throw new AppError('REFRESH_INVALID');
    // Claim the token atomically: of two concurrent refreshes with one token, only one wins.
    const claimed = await db
      .updateTable('refresh_tokens')
      .set({ used_at: new Date() })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!claimed) {
      await this.revokeFamily(row.family_id);
      log.warn({ userId: row.user_id, familyId: row.family_id }, 'refresh token reused: family revoked');
      throw new AppError('REFRESH_REUSED');
    }
    if (row.expires_at.getTime() <= Date.now()) throw new AppError('REFRESH_INVALID');
    const user = await this.findUser(row.user_id);
    if (!user) throw new AppError('REFRESH_INVALID');
    return this.issueTokens(user, row.family_id);
  }

  async logout(refreshToken: string): Promise<void> {
    const row = await this.deps.db
      .selectFrom('refresh_tokens')
      .select('family_id')
      .where('token_hash', '=', hashToken(refreshToken))
      .executeTakeFirst();
    if (row) await this.revokeFamily(row.family_id);
  }

  /**
   * Resolves an access token to its user. Refused: a deleted user's token, one whose refresh-token
   * family was revoked (signed out, refresh token reused) and one issued before the user's
   * tokens_not_before (signed out everywhere). Both checks ride on the users query each request
   * already made, in the same round trip (the family one is a probe of a small partial index), so
   * there is no cache to go stale: a revocation holds on every node from the next request on.
   */
  async authenticate(accessToken: string): Promise<PublicUser> {
    const claims = await verifyAccessToken(this.deps.jwtKey, accessToken);
    if (!isUuid(claims.userId) || (claims.familyId !== null && !isUuid(claims.familyId))) throw new AppError('TOKEN_INVALID');
    const familyId = claims.familyId;
    const row = await this.deps.db
      .selectFrom('users')
      .select(['id', 'username', 'email', 'created_at', 'tokens_not_before'])
      .select((eb) =>
        (familyId === null
          ? eb.val(false)
          : eb.exists(eb.selectFrom('refresh_tokens').select('id').where('family_id', '=', familyId).where('revoked_at', 'is not', null))
        ).as('family_revoked'),
      )
      .where('id', '=', claims.userId)
      .executeTakeFirst();
    if (!row) throw new AppError('TOKEN_INVALID', 'The account behind this token no longer exists.');
    const notBeforeS = row.tokens_not_before ? Math.floor(row.tokens_not_before.getTime() / 1000) : 0;
    if (row.family_revoked || claims.issuedAtS < notBeforeS) throw new AppError('TOKEN_INVALID', 'This session was signed out; sign in again.');
    return toPublicUser(row);
  }

  /**
   * Signs the user out everywhere: every refresh-token family is revoked and every access token
   * issued until now is refused. (Tokens issued earlier in the same second pass the time check,
   * which has whole-second precision like `iat`, but not the family one.)
   */
  async revokeAllSessions(userId: string): Promise<void> {
    const now = new Date();
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ tokens_not_before: now }).where('id', '=', userId).execute();
      await trx.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    });
    this.deps.log.info({ userId }, 'signed out everywhere');
  }

  async deleteAccount(userId: string, password: string): Promise<void> {
    const row = await this.deps.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND');
    if (!(await verifyPassword(row.password_hash, password))) throw new AppError('INVALID_CREDENTIALS', 'Wrong password.');
    const channels = await this.deps.db.selectFrom('channels').select('id').where('owner_id', '=', userId).execute();
    await this.deps.db.deleteFrom('users').where('id', '=', userId).execute();
    this.deps.log.info({ userId }, 'account deleted');
    for (const listener of this.deletedListeners) {
      try {
        listener(userId, channels.map((c) => c.id));
      } catch (err) {
        this.deps.log.error({ err, userId }, 'account deletion listener failed');
      }
    }
  }

  async findUser(id: string): Promise<PublicUser | null> {
    if (!isUuid(id)) return null;
    const row = await this.deps.db.selectFrom('users').select(['id', 'username', 'email', 'created_at']).where('id', '=', id).executeTakeFirst();
    return row ? toPublicUser(row) : null;
  }

  private async assertAvailable(username: string, email: string): Promise<void> {
    const { db } = this.deps;
    const clash = await db
      .selectFrom('users')
      .select(['username', 'email'])
      .where((eb) => eb.or([eb(eb.fn('lower', ['username']), '=', username.toLowerCase()), eb(eb.fn('lower', ['email']), '=', email.toLowerCase())]))
      .execute();
    if (clash.some((c) => c.username.toLowerCase() === username.toLowerCase())) throw new AppError('USERNAME_TAKEN');
    if (clash.length > 0) throw new AppError('EMAIL_TAKEN');
  }

  private startSession(user: PublicUser): Promise<Session> {
    return this.issueTokens(user, randomUUID());
  }

  private async issueTokens(user: PublicUser, familyId: string): Promise<Session> {
    const refreshToken = newRefreshToken();
    await this.deps.db
      .insertInto('refresh_tokens')
      .values({
        user_id: user.id,
        family_id: familyId,
        token_hash: hashToken(refreshToken),
        expires_at: new Date(Date.now() + REFRESH_TOKEN_TTL_S * 1000),
      })
      .execute();
    const accessToken = await signAccessToken(this.deps.jwtKey, user.id, familyId);
    return { user, accessToken, accessTokenExpiresIn: ACCESS_TOKEN_TTL_S, refreshToken };
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.deps.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: new Date() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}

function toPublicUser(row: { id: string; username: string; email: string; created_at: Date }): PublicUser {
  return { id: row.id, username: row.username, email: row.email, createdAt: row.created_at };
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
}
