// Row type of the instance settings table (sql/012_admin.sql), kept by hand in step with sql/.
import type { ColumnType, Generated } from 'kysely';

export interface InstanceSettingsTable {
  id: number;
  /** jsonb: pg parses it on read; written as a JSON string. */
  settings: ColumnType<unknown, string, string>;
  updated_at: Generated<Date>;
  updated_by: string | null;
}

export interface InstanceTables {
  instance_settings: InstanceSettingsTable;
}
