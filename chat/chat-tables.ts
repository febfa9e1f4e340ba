// Row types of the chat tables (sql/003_chat.sql), merged into the database type in src/db/schema.ts.
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ChatTables {}
