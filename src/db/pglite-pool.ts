// Lets kysely's PostgresDialect drive PGlite by looking like a pg Pool of one connection. PGlite
// is single-session, so a second "connection" waits until the first is released; otherwise a
// query from elsewhere could land inside someone else's transaction.
import type { PGlite } from '@electric-sql/pglite';

interface QueryResult {
  command: string;
  rowCount: number;
  rows: unknown[];
}

export interface PgliteClient {
  query(sql: string, parameters: readonly unknown[]): Promise<QueryResult>;
  release(): void;
}

export class PglitePool {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly pglite: PGlite) {}

  async connect(): Promise<PgliteClient> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => released);
    await previous;
    const pglite = this.pglite;
    let done = false;
    return {
      async query(sql, parameters) {
        const result = await pglite.query(sql, parameters as unknown[]);
        return {
          command: (result as { command?: string }).command ?? 'SELECT',
          rowCount: result.affectedRows ?? result.rows.length,
          rows: result.rows,
        };
      },
      release() {
        if (!done) {
          done = true;
          release();
        }
      },
    };
  }

  async end(): Promise<void> {
    await this.tail;
  }
}
