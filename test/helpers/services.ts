// Real backing services for tests. scripts/test.sh makes sure PostgreSQL and Redis are reachable
// (CI's own, or private instances it starts) and exports their URLs; nothing here falls back to
// an embedded stand-in, so a missing service fails the test loudly instead of skipping it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A fresh, empty PostgreSQL database for one test file, dropped when the test ends. */
export async function createTestDatabase(t: Teardown): Promise<string> {
  const name = `sw_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A unique key/channel prefix so tests sharing one Redis never see each other's data. */
export function uniquePrefix(label: string): string {
  return `swtest:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A temporary directory removed when the test ends. */
export async function tempDir(t: Teardown, label = 'spillway'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
