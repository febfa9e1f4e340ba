// The ffmpeg run that makes a live stream's transcoded ladder from the publish fed to its stdin. A
// run that dies while the publisher is there is started again (its rungs carry EXT-X-DISCONTINUITY;
// the native renditions go on untouched), and so is one whose input cannot carry the publisher's new
// decoder configuration; too many failures in a row give up.
import type { Logger } from '../src/log.ts';
import { FfmpegRun, type FfmpegExit, type FfmpegRunOptions } from './ffmpeg-run.ts';
import type { LadderInput, NativeSource } from './native-source.ts';

export interface LadderRunnerOptions {
  ffmpegPath: string;
  /** The ladder's ffmpeg argv (reading the publish on stdin); the same renditions every time. */
  buildRun: () => { args: string[]; outputs: Array<{ name: string; fd: number }> };
  /** The tracks the ladder is made from, and the format ffmpeg reads them in. */
  input: Pick<LadderInput, 'videoTrack' | 'audioTrack' | 'format'>;
  maxRestarts: number;
  log: Logger;
  onInit: FfmpegRunOptions['onInit'];
  onFragment: FfmpegRunOptions['onFragment'];
  /** More than maxRestarts failures in a row. */
  onGiveUp: () => void;
}

export class LadderRunner {
  private run: FfmpegRun | null = null;
  /** the publish being fed; null while there is none (and after stop()) */
  private native: NativeSource | null = null;
  private failures = 0;
  private restartCount = 0;

  constructor(private readonly opts: LadderRunnerOptions) {}

  /** The publisher is (back) on air: start ffmpeg on its messages. */
  start(native: NativeSource): void {
    this.native = native;
    this.failures = 0;
    this.startRun();
  }

  /** The publisher left or the session ends: ffmpeg finishes, nothing is restarted. */
  async stop(): Promise<void> {
    this.native = null;
    await this.run?.stop();
  }

  /** Kills the current ffmpeg as a crash would; for tests and fault drills. */
  kill(): number | undefined {
    const pid = this.run?.pid;
    this.run?.kill();
    return pid;
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  get restarts(): number {
    return this.restartCount;
  }

  private startRun(): void {
    const native = this.native;
    if (!native) return;
    const { args, outputs } = this.opts.buildRun();
    const run = new FfmpegRun({
      ffmpegPath: this.opts.ffmpegPath,
      args,
      outputs,
      stdin: true,
      log: this.opts.log,
      onInit: this.opts.onInit,
      onFragment: async (name, fragment) => {
        this.failures = 0;
        await this.opts.onFragment(name, fragment);
      },
    });
    run.on('error', (err) => this.opts.log.error({ err }, 'ffmpeg could not start'));
    run.on('exit', (exit) => this.onExit(run, exit));
    this.run = run;
    run.start();
    native.feedLadder({ ...this.opts.input, write: (data) => run.write(data), onNewConfiguration: () => void this.restartRun(run) });
    this.opts.log.info({ ffmpegPid: run.pid }, 'ffmpeg started');
  }

  /** The publisher's new decoder configuration needs a new ffmpeg: the rungs get a discontinuity. */
  private async restartRun(run: FfmpegRun): Promise<void> {
    if (run !== this.run || !this.native) return;
    this.opts.log.info('the publisher changed its decoder configuration: restarting the ladder');
    // No longer current: its exit is not a failure to recover from.
    this.run = null;
    await run.stop();
    if (this.run || !this.native) return;
    this.restartCount += 1;
    this.startRun();
  }

  private onExit(run: FfmpegRun, exit: FfmpegExit): void {
    if (run !== this.run) return;
    this.run = null;
    this.native?.feedLadder(null);
    if (exit.requested || !this.native) return;
    this.failures += 1;
    this.opts.log.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail, failures: this.failures }, 'ffmpeg exited unexpectedly');
    if (this.failures > this.opts.maxRestarts) {
      this.opts.onGiveUp();
      return;
    }
    this.restartCount += 1;
    const delay = Math.min(250 * 2 ** (this.failures - 1), 4000);
    setTimeout(() => this.startRun(), delay).unref();
  }
}
