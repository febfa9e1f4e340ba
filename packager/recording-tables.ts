// Row types of the recording tables (sql/004_recording.sql), merged into the database type in src/db/schema.ts.
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface RecordingTables {}
