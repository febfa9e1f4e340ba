// Row types of the account tables (sql/001_accounts.sql, sql/007_token_revocation.sql). Generated<T>
// marks columns with defaults; kept by hand in step with sql/.
import type { Generated } from 'kysely';
import type { NullableTimestamp, Timestamp } from '../db/column-types.ts';

export interface UsersTable {
  id: Generated<string>;
  username: string;
  email: string;
  password_hash: string;
  created_at: Generated<Date>;
  /** Access tokens issued before this are refused (sign-out everywhere). */
  tokens_not_before: NullableTimestamp;
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

export interface AccountTables {
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
}
