// Row types of the account tables (sql/001_accounts.sql, sql/007_token_revocation.sql). Generated<T>
// marks columns with defaults; kept by hand in step with sql/.
import type { ColumnType, Generated } from 'kysely';
import type { Nullable, NullableTimestamp, Timestamp } from '../db/column-types.ts';

/** Instance roles (sql/012), distinct from a channel's owner and moderators. */
export type Role = 'user' | 'moderator' | 'admin';

export interface UsersTable {
  id: Generated<string>;
  username: string;
  email: string;
  password_hash: string;
  created_at: Generated<Date>;
  /** Access tokens issued before this are refused (sign-out everywhere). */
  tokens_not_before: NullableTimestamp;
  role: ColumnType<Role, Role | undefined, Role>;
  /** NULL: not verified (asked for only when SMTP is configured). */
  email_verified_at: NullableTimestamp;
  /** Signed up under the 'approval' policy and not approved yet: may not sign in. */
  pending_approval: Generated<boolean>;
  suspended_at: NullableTimestamp;
  /** NULL with suspended_at set: until lifted. */
  suspended_until: NullableTimestamp;
  suspension_reason: Nullable<string>;
  suspended_by: Nullable<string>;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export type AccountTokenPurpose = 'password-reset' | 'email-verify';

/** Single-use links sent by email (sql/012), stored as SHA-256. */
export interface AccountTokensTable {
  id: Generated<string>;
  user_id: string;
  purpose: AccountTokenPurpose;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface InvitesTable {
  id: Generated<string>;
  token_hash: string;
  created_by: string | null;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  max_uses: number;
  uses: Generated<number>;
  revoked_at: NullableTimestamp;
}

export interface AdminAuditTable {
  id: Generated<string>;
  actor_id: string | null;
  action: string;
  target_user_id: string | null;
  target_kind: string | null;
  target_id: string | null;
  details: ColumnType<unknown, string | undefined, string>;
  created_at: Generated<Date>;
}

export interface AccountTables {
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  account_tokens: AccountTokensTable;
  invites: InvitesTable;
  admin_audit: AdminAuditTable;
}
