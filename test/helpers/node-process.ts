// One Spillway node as its own process (`src/main.ts`), for tests that need several nodes, a
// restart or a `kill -9`: the environment is passed whole, the URL and RTMP port are read from its
// "spillway is up" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { until } from './media.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface NodeProcess {
  child: ChildProcess;
  url: string;
  rtmpPort: number;
  exited: Promise<number | null>;
  output: () => string;
  /** SIGTERM, and the exit code once it has shut down. */
  stop: () => Promise<number | null>;
  /** SIGKILL: the node dies as in a crash, nothing closed. */
  kill: () => Promise<void>;
}

export async function startNode(t: Teardown, env: Record<string, string>, startTimeoutMs = 90_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  t.teardown(async () => {
    if (alive()) child.kill('SIGKILL');
    await exited;
  });
  const up = await until(
    () => {
      if (!alive()) throw new Error(`the node exited during start:\n${out.slice(-3000)}`);
      const line = out.split('\n').find((l) => l.includes('spillway is up'));
      return line ? (JSON.parse(line) as { url: string; rtmp: string }) : null;
    },
    'the node to start',
    startTimeoutMs,
    100,
  );
  return {
    child,
    url: up.url,
    rtmpPort: Number(new URL(up.rtmp).port),
    exited,
    output: () => out,
    stop: async () => {
      if (alive()) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}
