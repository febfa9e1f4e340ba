// Makes a recorded session's seek-preview tiles while it is live, so that finalising does not
// grow with the stream's length. The tile rendition's recorder hands over each segment as it is
// journaled; a segment a cue would start in (one per TILE_GRID_S of media) is queued, and every
// TILE_BATCH of them become tiles in one ffmpeg process, written as `<dir>/seg-<msn>.jpg` (tmp +
// rename, so a kill leaves whole files or none). Nothing else is state: a tile lost to a crash or a
// failed batch is made again from its segment when the VOD is finalised.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import { makeTiles, startsTile, TILE_BATCH, tileFile, tileInput } from './vod-thumbnails.ts';

export interface TileSource {
  msn: number;
  /** seconds from the start of the recording */
  start: number;
  duration: number;
  init: Buffer;
  segment: Buffer;
}

// A maker that falls this far behind (ffmpeg starved of CPU) drops the oldest; the end makes them.
const MAX_QUEUED = 20 * TILE_BATCH;

export class TileMaker {
  /** what each queued tile is made from: its segment's init section and first fragment */
  private queue: Array<{ msn: number; media: Buffer }> = [];
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: { ffmpegPath: string; dir: string; log: Logger }) {}

  /** Whether add() would keep this segment: callers skip building its media otherwise. */
  wants(start: number, duration: number): boolean {
    return !this.closed && startsTile(start, duration);
  }

  add(source: TileSource): void {
    if (!this.wants(source.start, source.duration)) return;
    this.queue.push({ msn: source.msn, media: tileInput(source.init, source.segment) });
    if (this.queue.length > MAX_QUEUED) this.queue.shift();
    if (this.queue.length >= TILE_BATCH) this.startBatch(false);
  }

  /** Makes every queued tile, a last partial batch included. */
  async flush(): Promise<void> {
    while (this.running || (this.queue.length > 0 && !this.closed)) {
      this.startBatch(true);
      await this.running;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    await this.running;
  }

  private startBatch(partial: boolean): void {
    if (this.running || this.closed) return;
    this.running = this.loop(partial).finally(() => (this.running = null));
  }

  private async loop(partial: boolean): Promise<void> {
    while (!this.closed && (this.queue.length >= TILE_BATCH || (partial && this.queue.length > 0))) {
      const batch = this.queue.splice(0, TILE_BATCH);
      try {
        const tiles = await makeTiles(this.opts.ffmpegPath, batch.map((s) => s.media));
        await mkdir(this.opts.dir, { recursive: true });
        await Promise.all(
          batch.map(async (s, i) => {
            const file = path.join(this.opts.dir, tileFile(s.msn));
            await writeFile(`${file}.tmp`, tiles[i]!);
            await rename(`${file}.tmp`, file);
          }),
        );
      } catch (err) {
        this.opts.log.warn({ err, from: batch[0]!.msn, to: batch.at(-1)!.msn }, 'making seek-preview tiles failed; the VOD makes them when it is finalised');
      }
    }
  }
}
