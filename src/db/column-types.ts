// Column types shared by every room's table declarations: timestamps read as Date, written as Date or
// an ISO string, and nullable columns that may be left out on insert.
import type { ColumnType } from 'kysely';

export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
export type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;
