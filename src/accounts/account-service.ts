// Registration, login, refresh-token rotation with family revocation, logout and account deletion.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { RateLimiter } from '../bus/rate-limiter.ts';
import type { ChannelTables } from '../channels/channel-tables.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RegistrationPolicy } from '../config.ts';
import type { AccountTables, Role } from './account-tables.ts';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.ts';
import { ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_S, hashToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.ts';

export interface PublicUser {
  id: string;
  username: string;
  email: string;
  createdAt: Date;
  role: Role;
  emailVerified: boolean;
}

/** Signed up under the 'approval' policy: no session until an admin approves the account. */
export interface PendingRegistration {
  pending: true;
  user: PublicUser;
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
  /** The instance's registration policy now (instance settings); 'open' when not given. */
  registration?: () => RegistrationPolicy;
  /** ADMIN_USERNAME: made admin when it signs up. null: the first account is admin. */
  adminUsername?: string | null;
  /** New accounts verify their email (SMTP configured); otherwise they count as verified. */
  verifyEmail?: boolean;
}

// An arbitrary constant naming the lock that serialises sign-ups on an empty instance.
const FIRST_ACCOUNT_LOCK = 7_301_012;

const USER_COLUMNS = ['id', 'username', 'email', 'created_at', 'role', 'email_verified_at'] as const;

/** A suspension holds while suspended_at is set and its end (if any) is still ahead. */
export function isSuspended(row: { suspended_at: Date | null; suspended_until: Date | null }, now = Date.now()): boolean {
  return row.suspended_at !== null && (row.suspended_until === null || row.suspended_until.getTime() > now);
}

export function suspendedError(row: { suspension_reason: string | null; suspended_until: Date | null }): AppError {
  const until = row.suspended_until ? ` until ${row.suspended_until.toISOString()}` : '';
  return new AppError('ACCOUNT_SUSPENDED', `This account is suspended${until}${row.suspension_reason ? `: ${row.suspension_reason}` : '.'}`, {
    reason: row.suspension_reason ?? '',
    until: row.suspended_until?.toISOString() ?? null,
  });
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

  async register(input: { username: string; email: string; password: string; inviteCode?: string }): Promise<Session | PendingRegistration> {
    const { db, adminUsername = null } = this.deps;
    if (RESERVED_USERNAMES.has(input.username.toLowerCase())) throw new AppError('USERNAME_TAKEN', 'That username is reserved.');
    await this.assertAvailable(input.username, input.email);
    const passwordHash = await hashPassword(input.password);
    const policy = this.deps.registration?.() ?? 'open';
    const isAdminName = adminUsername !== null && adminUsername.toLowerCase() === input.username.toLowerCase();
    let result: { user: PublicUser; pending: boolean };
    try {
      result = await db.transaction().execute(async (trx) => {
        // The first account sets the instance up: no policy applies to it, and it is its admin.
        // Two sign-ups racing on an empty instance are serialised by a transaction lock, and the
        // second one's fresh look (READ COMMITTED) sees the first: exactly one becomes admin.
        const anyUser = () => trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
        let first = !(await anyUser());
        if (first) {
          await sql`select pg_advisory_xact_lock(${FIRST_ACCOUNT_LOCK})`.execute(trx);
          first = !(await anyUser());
        }
        if (!first) await this.admit(trx, policy, input.inviteCode);
        const role: Role = isAdminName || (first && adminUsername === null) ? 'admin' : 'user';
        const pending = !first && role !== 'admin' && policy === 'approval';
        const row = await trx
          .insertInto('users')
          .values({
            username: input.username,
            email: input.email,
            password_hash: passwordHash,
            role,
            pending_approval: pending,
            email_verified_at: this.deps.verifyEmail ? null : new Date(),
          })
          .returning([...USER_COLUMNS])
          .executeTakeFirstOrThrow();
        await this.deps.createChannel(trx, { id: row.id, username: row.username });
        return { user: toPublicUser(row), pending };
      });
    } catch (err) {
      // Two registrations racing past assertAvailable: the unique index decides.
      if (isUniqueViolation(err)) await this.assertAvailable(input.username, input.email);
      throw err;
    }
    const { user, pending } = result;
    this.deps.log.info({ userId: user.id, username: user.username, role: user.role, pending, policy }, 'user registered');
    if (pending) return { pending: true, user };
    return this.startSession(user);
  }

  /** The registration policy's gate, inside the registration transaction (an invite use is claimed there). */
  private async admit(trx: Kysely<AccountDb>, policy: RegistrationPolicy, inviteCode: string | undefined): Promise<void> {
    if (policy === 'closed') throw new AppError('REGISTRATION_CLOSED');
    if (policy !== 'invite') return;
    if (!inviteCode) throw new AppError('INVITE_REQUIRED');
    const claimed = await trx
      .updateTable('invites')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('token_hash', '=', hashToken(inviteCode))
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .where((eb) => eb('uses', '<', eb.ref('max_uses')))
      .returning('id')
      .executeTakeFirst();
    if (!claimed) throw new AppError('INVITE_INVALID');
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
      .select([...USER_COLUMNS, 'password_hash', 'pending_approval', 'suspended_at', 'suspended_until', 'suspension_reason'])
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
    // Told only to someone who knows the password: the account's state is no business of a guesser.
    if (isSuspended(row)) throw suspendedError(row);
    if (row.pending_approval) throw new AppError('ACCOUNT_PENDING');
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
    const user = await this.deps.db
      .selectFrom('users')
      .select([...USER_COLUMNS, 'suspended_at', 'suspended_until', 'suspension_reason'])
      .where('id', '=', row.user_id)
      .executeTakeFirst();
    if (!user) throw new AppError('REFRESH_INVALID');
    if (isSuspended(user)) throw suspendedError(user);
    return this.issueTokens(toPublicUser(user), row.family_id);
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
    return (await this.authenticateSession(accessToken)).user;
  }

  /** authenticate(), also naming the refresh-token family the access token belongs to. */
  async authenticateSession(accessToken: string): Promise<{ user: PublicUser; familyId: string | null }> {
    const claims = await verifyAccessToken(this.deps.jwtKey, accessToken);
    if (!isUuid(claims.userId) || (claims.familyId !== null && !isUuid(claims.familyId))) throw new AppError('TOKEN_INVALID');
    const familyId = claims.familyId;
    const row = await this.deps.db
      .selectFrom('users')
      .select([...USER_COLUMNS, 'tokens_not_before', 'suspended_at', 'suspended_until', 'suspension_reason'])
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
    // A suspension also set tokens_not_before, so the token is refused by the check below as well;
    // this one names the reason, and holds for a token issued in the same second as the suspension.
    if (isSuspended(row)) throw suspendedError(row);
    if (row.family_revoked || claims.issuedAtS < notBeforeS) throw new AppError('TOKEN_INVALID', 'This session was signed out; sign in again.');
    return { user: toPublicUser(row), familyId };
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
    await this.deps.db.transaction().execute(async (trx) => {
      // The last admin of an instance with other accounts hands the role on first (as for stepping down).
      const admins = await trx.selectFrom('users').select('id').where('role', '=', 'admin').forUpdate().execute();
      const others = await trx.selectFrom('users').select('id').where('id', '!=', userId).limit(1).executeTakeFirst();
      if (others && admins.length === 1 && admins[0]!.id === userId) throw new AppError('LAST_ADMIN', 'You are the last admin: make someone else admin before deleting your account.');
      await trx.deleteFrom('users').where('id', '=', userId).execute();
    });
    this.deps.log.info({ userId }, 'account deleted');
    for (const listener of this.deletedListeners) {
      try {
        listener(userId, channels.map((c) => c.id));
      } catch (err) {
        this.deps.log.error({ err, userId }, 'account deletion listener failed');
      }
    }
  }

  /** Whether a channel owner may stream now: not while suspended, nor before verifying their email. */
  async streamRefusal(userId: string): Promise<'suspended' | 'unverified' | null> {
    const row = await this.deps.db.selectFrom('users').select(['suspended_at', 'suspended_until', 'email_verified_at']).where('id', '=', userId).executeTakeFirst();
    if (!row || isSuspended(row)) return 'suspended';
    return row.email_verified_at === null ? 'unverified' : null;
  }

  async isSuspended(userId: string): Promise<boolean> {
    const row = await this.deps.db.selectFrom('users').select(['suspended_at', 'suspended_until']).where('id', '=', userId).executeTakeFirst();
    return row ? isSuspended(row) : false;
  }

  async findUser(id: string): Promise<PublicUser | null> {
    if (!isUuid(id)) return null;
    const row = await this.deps.db.selectFrom('users').select([...USER_COLUMNS]).where('id', '=', id).executeTakeFirst();
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

function toPublicUser(row: { id: string; username: string; email: string; created_at: Date; role: Role; email_verified_at: Date | null }): PublicUser {
  return { id: row.id, username: row.username, email: row.email, createdAt: row.created_at, role: row.role, emailVerified: row.email_verified_at !== null };
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
}
