// Row type of the reports table (sql/012_admin.sql), kept by hand in step with sql/, and the
// tables the admin room reads.
import type { Generated } from 'kysely';
import type { AccountTables } from '../src/accounts/account-tables.ts';
import type { NullableTimestamp } from '../src/db/column-types.ts';

export type ReportTargetKind = 'channel' | 'video' | 'chat-message' | 'comment';
export type ReportStatus = 'open' | 'dismissed' | 'content-deleted' | 'user-suspended';

export interface ReportsTable {
  id: Generated<string>;
  reporter_id: string | null;
  target_kind: ReportTargetKind;
  target_id: string;
  target_user_id: string | null;
  reason: string;
  status: Generated<ReportStatus>;
  resolved_by: string | null;
  resolved_at: NullableTimestamp;
  resolution_note: Generated<string>;
  created_at: Generated<Date>;
}

export interface AdminTables {
  reports: ReportsTable;
}

/** What the admin room reads and writes: reports, and user names and the audit trail. */
export type AdminDb = AdminTables & Pick<AccountTables, 'users' | 'admin_audit'>;
