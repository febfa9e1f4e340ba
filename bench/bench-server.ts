// Shared by the benchmarks: a Spillway server with embedded defaults in a temporary directory,
// and channels registered on it. Benchmarks print figures; they assert nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ConfigVar } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createServer, type Server } from '../src/main.ts';

export async function startBenchServer(env: Partial<Record<ConfigVar, string>>): Promise<{ server: Server; base: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'spillway-bench-'));
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', RTMP_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT: '100000', ...env });
  const server = await createServer(config, createLogger(config.logLevel));
  const base = await server.listen();
  return {
    server,
    base,
    stop: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a user and returns the RTMP URL its channel publishes to. */
export async function newChannel(server: Server, username: string): Promise<string> {
  const reg = await server.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username, email: `${username}@bench.test`, password: 'benchmark password' } });
  const { accessToken } = reg.json();
  const key = await server.app.inject({ url: `/api/v1/channels/${username}/stream-key`, headers: { authorization: `Bearer ${accessToken}` } });
  return `rtmp://127.0.0.1:${server.ingest.port}/live/${key.json().streamKey}`;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
