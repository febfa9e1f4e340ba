// Makes a recorded session's seek-preview tiles while it is live, so that finalising does not
// grow with the stream's length. The tile rendition's recorder hands over each segment as it is
// journaled; a segment a cue would start in at the length recorded so far is queued, and once
// `batch` of them are queued they become tiles in one ffmpeg process, written as
// `<dir>/seg-<msn>.jpg` (tmp + rename, so a kill leaves whole files or none).
//
// What a queued tile is made from (its init section and first fragment) waits in a spool file in
// `<dir>`, not in memory. ffmpeg's start costs about as much CPU as a dozen tiles, so batches are
// large; and a queued segment that stops being a cue point as the stream grows (the step between
// cues doubles) is dropped before it costs anything. Nothing else is state: a tile lost to a crash
// or a failed batch, and the last partial batch, are made from their segments when the VOD is
// finalised (flush() makes the partial batch from the spool first).
import { appendFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import { makeTiles, onCueGrid, startsTile, tileFile, tileInput, tileStep } from './vod-thumbnails.ts';

export interface TileSource {
  msn: number;
  /** seconds from the start of the recording */
  start: number;
  duration: number;
  init: Buffer;
  segment: Buffer;
}

interface Queued {
  msn: number;
  start: number;
  duration: number;
  /** where its media is in the spool file */
  offset: number;
  length: number;
}

export const LIVE_TILE_BATCH = 50;

export class TileMaker {
  private queue: Queued[] = [];
  /** the spool file the queue's media is in; a batch takes the whole queue and the file with it */
  private spool = 0;
  private spoolBytes = 0;
  /** appends to the spool, in order */
  private writing: Promise<void> = Promise.resolve();
  private running: Promise<void> | null = null;
  private dirMade: Promise<unknown> | null = null;
  private closed = false;

  constructor(private readonly opts: { ffmpegPath: string; dir: string; log: Logger; batch?: number }) {}

  private get batch(): number {
    return this.opts.batch ?? LIVE_TILE_BATCH;
  }

  /** Whether add() would keep this segment: callers skip building its media otherwise. */
  wants(start: number, duration: number): boolean {
    return !this.closed && startsTile(start, duration);
  }

  add(source: TileSource): void {
    if (!this.wants(source.start, source.duration)) return;
    // The cue step only grows with the recording: what is off its grid now is never needed.
    const step = tileStep(source.start + source.duration);
    this.queue = this.queue.filter((q) => onCueGrid(q.start, q.duration, step));
    const media = tileInput(source.init, source.segment);
    const file = this.spoolFile(this.spool);
    this.queue.push({ msn: source.msn, start: source.start, duration: source.duration, offset: this.spoolBytes, length: media.length });
    this.spoolBytes += media.length;
    this.writing = this.writing
      .then(async () => {
        this.dirMade ??= mkdir(this.opts.dir, { recursive: true }).catch((err) => {
          this.dirMade = null;
          throw err;
        });
        await this.dirMade;
        await appendFile(file, media);
      })
      .catch((err) => this.opts.log.warn({ err }, 'queueing a seek-preview tile failed; the VOD makes it when it is finalised'));
    if (this.queue.length >= this.batch) this.startBatch();
  }

  /** Makes every queued tile, a last partial batch included. */
  async flush(): Promise<void> {
    while (this.running || (this.queue.length > 0 && !this.closed)) {
      this.startBatch();
      await this.running;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    await this.running;
    await this.writing;
    await rm(this.spoolFile(this.spool), { force: true });
  }

  private spoolFile(n: number): string {
    return path.join(this.opts.dir, `queue-${n}.spool`);
  }

  private startBatch(): void {
    if (this.running || this.closed || this.queue.length === 0) return;
    const batch = this.queue;
    const file = this.spoolFile(this.spool);
    this.queue = [];
    this.spool += 1;
    this.spoolBytes = 0;
    this.running = this.make(batch, file).finally(() => (this.running = null));
  }

  private async make(batch: Queued[], file: string): Promise<void> {
    try {
      await this.writing;
      const media = await readRanges(file, batch);
      if (this.closed) return;
      const tiles = await makeTiles(this.opts.ffmpegPath, media);
      await Promise.all(
        batch.map(async (q, i) => {
          const out = path.join(this.opts.dir, tileFile(q.msn));
          await writeFile(`${out}.tmp`, tiles[i]!);
          await rename(`${out}.tmp`, out);
        }),
      );
    } catch (err) {
      this.opts.log.warn({ err, from: batch[0]!.msn, to: batch.at(-1)!.msn }, 'making seek-preview tiles failed; the VOD makes them when it is finalised');
    } finally {
      await rm(file, { force: true });
    }
  }
}

async function readRanges(file: string, ranges: Queued[]): Promise<Buffer[]> {
  const handle = await open(file, 'r');
  try {
    return await Promise.all(
      ranges.map(async ({ offset, length }) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        if (bytesRead !== length) throw new Error(`the tile spool ends at ${offset + bytesRead}, before ${offset + length}`);
        return buffer;
      }),
    );
  } finally {
    await handle.close();
  }
}
