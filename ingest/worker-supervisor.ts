// Runs rtmp-worker.ts as a child process and keeps one running: a worker that dies is replaced
// after a delay that doubles on each quick crash (min → max) and resets once a worker has stayed up.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { Logger } from '../src/log.ts';
import type { ParentMessage, WorkerMessage, WorkerOptions } from './ipc-protocol.ts';
import { isTagged, scrubSecrets } from './ipc-protocol.ts';
import { MediaPipeReader, type PipedTag } from './media-pipe.ts';

const WORKER_ENTRY = new URL('./rtmp-worker.ts', import.meta.url);
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
const STABLE_MS = 30_000;
const KILL_AFTER_MS = 3000;
const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

export interface WorkerSupervisorOptions {
  workerOptions: WorkerOptions;
  log: Logger;
  onMessage(message: Exclude<WorkerMessage, { t: 'ready' | 'log' }>): void;
  /** An audio/video message of an accepted publish, from the media pipe. */
  onMedia(tag: PipedTag): void;
  /** The worker is gone with every connection it held; `expected` after close(). */
  onExit(expected: boolean): void;
}

export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private readyChild: ChildProcess | null = null;
  private closing = false;
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: WorkerSupervisorOptions) {}

  /** Resolves when the first worker is ready; rejects if it dies before that (a broken install). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.spawn({ resolve, reject }));
  }

  get pid(): number | null {
    return this.readyChild?.pid ?? null;
  }

  get ready(): boolean {
    return this.readyChild?.connected === true;
  }

  /** False when no worker can take it right now (restarting, closing); a handle is then destroyed. */
  send(message: ParentMessage, handle?: Socket): boolean {
    const child = this.readyChild;
    if (!child?.connected) {
      handle?.destroy();
      return false;
    }
    child.send(message, handle, {}, (err) => {
      if (err) handle?.destroy();
    });
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      // A worker already exiting (a terminal's Ctrl-C reaches the whole process group) has closed
      // its channel: the send then fails with EPIPE, which only means it is on its way out.
      if (child.connected) child.send({ t: 'close' } satisfies ParentMessage, (err) => err && child.kill('SIGTERM'));
      else child.kill('SIGTERM');
    });
  }

  private spawn(first?: { resolve: () => void; reject: (err: Error) => void }): void {
    const startedAt = Date.now();
    // The worker parses untrusted bytes: it gets no environment (no database URL, no secrets) and
    // only tsx to load TypeScript, resolved here so it does not depend on the working directory.
    const child = fork(WORKER_ENTRY, [JSON.stringify(this.options.workerOptions)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      env: {},
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
    });
    this.child = child;
    const log = this.options.log;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => log.warn({ line: scrubSecrets(line).slice(0, 500) }, 'rtmp worker output'));
    }
    const media = new MediaPipeReader();
    const mediaStream = child.stdio[4] as Readable | null;
    mediaStream?.on('data', (chunk: Buffer) => {
      try {
        media.push(chunk, (tag) => {
          try {
            this.options.onMedia(tag);
          } catch (err) {
            log.error({ err, connId: tag.connId }, 'a media consumer failed');
          }
        });
      } catch (err) {
        // a framing error means the worker is broken: start a fresh one
        log.error({ err }, 'media pipe out of step; restarting the rtmp worker');
        child.kill('SIGKILL');
      }
    });
    child.on('message', (raw: unknown) => {
      if (!isTagged(raw)) return;
      const message = raw as WorkerMessage;
      if (message.t === 'ready') {
        this.readyChild = child;
        first?.resolve();
        first = undefined;
      } else if (message.t === 'log') {
        if (LOG_LEVELS.has(message.level)) log[message.level](message.fields, message.msg);
      } else {
        this.options.onMessage(message);
      }
    });
    child.on('error', (err) => log.error({ err }, 'rtmp worker process error'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.readyChild === child) this.readyChild = null;
      if (first) return first.reject(new Error(`rtmp worker exited before it was ready (code ${code}, signal ${signal})`));
      const expected = this.closing;
      this.options.onExit(expected);
      if (expected) return;
      if (Date.now() - startedAt >= STABLE_MS) this.restartDelay = RESTART_MIN_MS;
      const delay = this.restartDelay;
      this.restartDelay = Math.min(RESTART_MAX_MS, delay * 2);
      log.error({ code, signal, restartInMs: delay }, 'rtmp worker died, its connections are lost; restarting');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closing) this.spawn();
      }, delay);
    });
  }
}
