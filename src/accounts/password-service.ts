// Password change, forgotten-password reset by an emailed single-use link, and email verification.
// Links carry a random token whose SHA-256 alone is stored; a reset link works once, for 30
// minutes, and asking for one answers the same whether or not the address has an account.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { BucketSpec, RateLimiter } from '../bus/rate-limiter.ts';
import { AppError } from '../errors.ts';
import { PermanentJobError, type JobContext, type Jobs } from '../jobs/jobs.ts';
import type { Logger } from '../log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { AccountTables, AccountTokenPurpose } from './account-tables.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { hashToken } from './tokens.ts';

export const RESET_TTL_MS = 30 * 60 * 1000;
export const VERIFY_TTL_MS = 48 * 3600 * 1000;

export interface PasswordLimits {
  /** Reset mails asked for one address. */
  resetPerAddress: BucketSpec;
  /** Reset requests and link confirmations from one IP. */
  resetPerIp: BucketSpec;
  /** Password changes (wrong current passwords included) by one account. */
  changePerUser: BucketSpec;
}

export const DEFAULT_PASSWORD_LIMITS: PasswordLimits = {
  resetPerAddress: { capacity: 3, refillPerSecond: 3 / 3600 },
  resetPerIp: { capacity: 20, refillPerSecond: 20 / 3600 },
  changePerUser: { capacity: 10, refillPerSecond: 10 / 900 },
};

/** The jobs queue that sends account mail: retried while the mail server is away, resumed after a restart. */
export const ACCOUNT_MAIL_QUEUE = 'account-mail';

/** A queued account mail names who and why, never the token: the job makes the token when it sends. */
export interface AccountMailJob {
  userId: string;
  purpose: AccountTokenPurpose;
  linkBase: string;
}

export interface PasswordServiceDeps {
  db: Kysely<AccountTables>;
  limiter: RateLimiter;
  mailer: Mailer;
  jobs: Pick<Jobs, 'add'>;
  log: Logger;
  /** Signs a user out everywhere (the account service's revokeAllSessions). */
  revokeAllSessions: (userId: string) => Promise<void>;
  instanceName: () => string;
  limits?: PasswordLimits;
}

export class PasswordService {
  private readonly sending = new Set<Promise<void>>();
  private readonly limits: PasswordLimits;

  constructor(private readonly deps: PasswordServiceDeps) {
    this.limits = deps.limits ?? DEFAULT_PASSWORD_LIMITS;
  }

  /** Needs the current password; every other session (refresh-token family) is signed out. */
  async change(userId: string, familyId: string | null, currentPassword: string, newPassword: string): Promise<void> {
    await this.limit(`password:user:${userId}`, this.limits.changePerUser);
    const { db } = this.deps;
    const row = await db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND');
    if (!(await verifyPassword(row.password_hash, currentPassword))) throw new AppError('WRONG_PASSWORD');
    const hash = await hashPassword(newPassword);
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
      let others = trx.updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (familyId !== null) others = others.where('family_id', '!=', familyId);
      await others.execute();
      // A reset link mailed before the change must not undo it.
      await trx.updateTable('account_tokens').set({ used_at: new Date() }).where('user_id', '=', userId).where('purpose', '=', 'password-reset').where('used_at', 'is', null).execute();
    });
    this.deps.log.info({ userId }, 'password changed; other sessions signed out');
  }

  /**
   * Mails a reset link when the address has an account. The answer, and its timing, are the same
   * either way: the mail goes out in the background.
   */
  async requestReset(email: string, ip: string, linkBase: string): Promise<void> {
    await this.limit(`reset:ip:${ip}`, this.limits.resetPerIp);
    await this.limit(`reset:address:${email.toLowerCase()}`, this.limits.resetPerAddress);
    const user = await this.deps.db
      .selectFrom('users')
      .select(['id', 'email'])
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    if (!user) {
      this.deps.log.info('password reset asked for an address without an account');
      return;
    }
    this.queueMail({ userId: user.id, purpose: 'password-reset', linkBase });
  }

  /** Uses a reset link: sets the password and signs the account out everywhere. */
  async confirmReset(token: string, newPassword: string, ip: string): Promise<void> {
    await this.limit(`reset:ip:${ip}`, this.limits.resetPerIp);
    const hash = await hashPassword(newPassword);
    const userId = await this.deps.db.transaction().execute(async (trx) => {
      const claimed = await this.claim(trx, token, 'password-reset');
      await trx
        .updateTable('users')
        // The link proved the address too.
        .set((eb) => ({ password_hash: hash, email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(new Date())) }))
        .where('id', '=', claimed)
        .execute();
      await trx.updateTable('account_tokens').set({ used_at: new Date() }).where('user_id', '=', claimed).where('purpose', '=', 'password-reset').where('used_at', 'is', null).execute();
      return claimed;
    });
    await this.deps.revokeAllSessions(userId);
    this.deps.log.info({ userId }, 'password reset by emailed link');
  }

  /** Mails a verification link (only when mail reaches people: with SMTP configured). */
  sendVerification(user: { id: string; email: string }, linkBase: string): void {
    this.queueMail({ userId: user.id, purpose: 'email-verify', linkBase });
  }

  /**
   * The account-mail job: makes a fresh single-use token and mails its link. A retry (the mail
   * server was away) makes another; only the link that arrives is ever used.
   */
  async deliver(job: JobContext<AccountMailJob>): Promise<void> {
    const { userId, purpose, linkBase } = job.data;
    const user = await this.deps.db.selectFrom('users').select(['id', 'email', 'email_verified_at']).where('id', '=', userId).executeTakeFirst();
    if (!user) throw new PermanentJobError('the account is gone');
    const name = this.deps.instanceName();
    if (purpose === 'email-verify') {
      if (user.email_verified_at) return;
      const link = `${linkBase}/verify-email#token=${await this.issue(user.id, 'email-verify', VERIFY_TTL_MS)}`;
      await this.deps.mailer.send({
        to: user.email,
        subject: `Confirm your email for ${name}`,
        text: `Welcome to ${name}!\n\nConfirm this address to start streaming (watching and chat work already):\n${link}\n\nThe link works once, for 48 hours.\n`,
        link,
      });
      return;
    }
    const link = `${linkBase}/reset-password#token=${await this.issue(user.id, 'password-reset', RESET_TTL_MS)}`;
    await this.deps.mailer.send({
      to: user.email,
      subject: `Reset your ${name} password`,
      text: `Someone (hopefully you) asked to reset the password of your ${name} account.\n\nChoose a new password here within 30 minutes:\n${link}\n\nThe link works once. If you did not ask for this, ignore this mail: your password stays as it is.\n`,
      link,
    });
  }

  async resendVerification(user: { id: string; email: string; emailVerified: boolean }, linkBase: string): Promise<void> {
    if (user.emailVerified) return;
    await this.limit(`verify:user:${user.id}`, this.limits.resetPerAddress);
    this.sendVerification(user, linkBase);
  }

  async confirmVerification(token: string, ip: string): Promise<void> {
    await this.limit(`reset:ip:${ip}`, this.limits.resetPerIp);
    const userId = await this.deps.db.transaction().execute(async (trx) => {
      const claimed = await this.claim(trx, token, 'email-verify');
      await trx.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', claimed).where('email_verified_at', 'is', null).execute();
      return claimed;
    });
    this.deps.log.info({ userId }, 'email verified');
  }

  /** Waits for mail still being queued. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.sending]);
  }

  private async issue(userId: string, purpose: AccountTokenPurpose, ttlMs: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.deps.db
      .insertInto('account_tokens')
      .values({ user_id: userId, purpose, token_hash: hashToken(token), expires_at: new Date(Date.now() + ttlMs) })
      .execute();
    return token;
  }

  /** Marks a live token used, atomically (of two uses racing, one wins); its user, or LINK_INVALID. */
  private async claim(trx: Kysely<AccountTables>, token: string, purpose: AccountTokenPurpose): Promise<string> {
    const row = await trx
      .updateTable('account_tokens')
      .set({ used_at: new Date() })
      .where('token_hash', '=', hashToken(token))
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', new Date())
      .returning('user_id')
      .executeTakeFirst();
    if (!row) throw new AppError('LINK_INVALID');
    return row.user_id;
  }

  private async limit(key: string, spec: BucketSpec): Promise<void> {
    const result = await this.deps.limiter.take(key, spec);
    if (!result.allowed) throw new AppError('RATE_LIMITED', 'Too many attempts; try again later.', { retryAfterMs: result.retryAfterMs });
  }

  /** Queued without being awaited, so asking for a reset takes as long for an unknown address as for a known one. */
  private queueMail(data: AccountMailJob): void {
    const p = this.deps.jobs
      .add(ACCOUNT_MAIL_QUEUE, data, { attempts: 6, backoffMs: 5000 })
      .then(() => undefined, (err) => this.deps.log.error({ err, userId: data.userId }, 'queueing account mail failed'));
    this.sending.add(p);
    void p.finally(() => this.sending.delete(p));
  }
}
