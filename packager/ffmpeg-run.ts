// One ffmpeg process: started with an argv array (never a shell), each rendition's fMP4 read from
// its own pipe, stderr kept (last lines only) to explain a failure. Stopping asks ffmpeg to finish
// cleanly (SIGINT) and kills it if it does not.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Logger } from '../src/log.ts';
import { Fmp4Reader } from './fmp4-reader.ts';
import type { InitSection, MediaFragment } from './rendition-packager.ts';

export interface FfmpegOutput {
  name: string;
  fd: number;
}

export interface FfmpegRunOptions {
  ffmpegPath: string;
  args: string[];
  outputs: FfmpegOutput[];
  /** ffmpeg reads its input from stdin, fed by write() */
  stdin?: boolean;
  onInit: (rendition: string, init: InitSection & { codec: string }) => Promise<void>;
  onFragment: (rendition: string, fragment: MediaFragment) => Promise<void>;
  log: Logger;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** true when stop() asked for it */
  requested: boolean;
  stderrTail: string;
}

const STDERR_LINES = 20;
const STOP_GRACE_MS = 5000;
/** input ffmpeg has not taken yet beyond which write() refuses (the encoder is too slow) */
const MAX_STDIN_BACKLOG = 16 * 1024 * 1024;

export class FfmpegRun extends EventEmitter<{ exit: [FfmpegExit]; error: [Error] }> {
  private child: ChildProcess | null = null;
  private stopRequested = false;
  private readonly stderr: string[] = [];
  private exited: Promise<FfmpegExit> | null = null;

  constructor(private readonly opts: FfmpegRunOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const maxFd = Math.max(2, ...this.opts.outputs.map((o) => o.fd));
    const piped = (fd: number) => fd === 2 || (fd === 0 && this.opts.stdin === true) || this.opts.outputs.some((o) => o.fd === fd);
    const stdio: Array<'ignore' | 'pipe'> = Array.from({ length: maxFd + 1 }, (_, fd) => (piped(fd) ? 'pipe' : 'ignore'));
    const child = spawn(this.opts.ffmpegPath, this.opts.args, { stdio });
    this.child = child;
    // EPIPE once ffmpeg has exited: its exit is handled below
    child.stdin?.on('error', () => {});
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        this.stderr.push(line);
        if (this.stderr.length > STDERR_LINES) this.stderr.shift();
      }
    });
    const readers = this.opts.outputs.map((output) => this.consume(output, child.stdio[output.fd] as Readable));
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => this.emit('error', err));
      child.on('close', async (code, signal) => {
        await Promise.allSettled(readers);
        const exit = { code, signal, requested: this.stopRequested, stderrTail: this.stderr.join('\n') };
        resolve(exit);
        this.emit('exit', exit);
      });
    });
  }

  /** Input for ffmpeg's stdin; false (and nothing written) when ffmpeg is too far behind or gone. */
  write(data: Buffer): boolean {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable || stdin.writableLength > MAX_STDIN_BACKLOG) return false;
    stdin.write(data);
    return true;
  }

  /** Asks ffmpeg to finish (it flushes its outputs), then kills it after a grace period. */
  async stop(): Promise<FfmpegExit | null> {
    if (!this.child || !this.exited) return null;
    this.stopRequested = true;
    this.child.stdin?.end();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), STOP_GRACE_MS);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  /** Kills ffmpeg at once, as a crash would (tests use it to prove restarts). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  private async consume(output: FfmpegOutput, stream: Readable): Promise<void> {
    const reader = new Fmp4Reader();
    // Fragments of one rendition are handled strictly in order, one at a time.
    let chain: Promise<void> = Promise.resolve();
    const handle = (chunk: Buffer) => {
      let events;
      try {
        events = reader.push(chunk);
      } catch (err) {
        this.opts.log.error({ err, rendition: output.name }, 'unreadable fMP4 from ffmpeg');
        this.child?.kill('SIGKILL');
        return;
      }
      for (const event of events) {
        chain = chain.then(() =>
          event.type === 'init'
            ? this.opts.onInit(output.name, { data: event.data, timescale: event.timescale, codec: event.codec })
            : this.opts.onFragment(output.name, event),
        ).catch((err) => this.opts.log.error({ err, rendition: output.name }, 'packaging a fragment failed'));
      }
    };
    await new Promise<void>((resolve) => {
      stream.on('data', handle);
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', resolve);
    });
    await chain;
  }
}
