// Records one rendition of one session: journals each init and complete segment of
// MEDIA_DIR/live/<session>/<rendition> in media-sequence order, uploads them strictly in journal
// order (retrying with backoff), and deletes a local segment once it is both stored and outside the
// live window. The directory listing, not the watcher's event order, is the source of truth: the
// watcher only says "look again".
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';
import { segmentDuration } from './fmp4-file-info.ts';
import { backoffDelay, pause, type BackoffPolicy } from './retry-backoff.ts';
import type { FreshSegments } from '../packager/fresh-segments.ts';
import { IMMUTABLE } from '../packager/stream-defs.ts';
import type { TileMaker } from './tile-maker.ts';
import type { JournalRow, NewJournalRow, VodStore } from './vod-store.ts';

export interface RenditionRecorderOptions {
  vodId: string;
  /** storage key prefix of the VOD, `vods/<vod-id>` */
  prefix: string;
  rendition: string;
  dir: string;
  storage: Storage;
  store: VodStore;
  log: Logger;
  /** newest segments kept on disk because the live playlist still lists them */
  keepSegments: number;
  backoff?: BackoffPolicy;
  /** Given to the tile rendition's recorder: each journaled segment, timed from the recording's start. */
  tiles?: TileMaker;
  /** The media of segments the packager in this process just wrote, taken instead of reading them back. */
  fresh?: FreshSegments;
}

const INIT = /^init-(\d+)\.mp4$/;
const MAX_JUST_READ = 4;
const SEGMENT = /^seg-(\d+)\.m4s$/;

export class RenditionRecorder {
  private readonly journaledFiles = new Set<string>();
  private readonly initTimes = new Map<number, bigint>();
  private readonly initBytes = new Map<number, Buffer>();
  private pending: JournalRow[] = [];
  /**
   * The bytes of segments just journaled, read once for their duration and kept for their upload,
   * which normally follows at once. Bounded: while storage is away, later ones are read again.
   */
  private readonly justRead = new Map<string, Buffer[]>();
  private storedOnDisk: number[] = [];
  private nextMsn: number | null = null;
  private lastRun: number | null = null;
  private newestMsn = -1;
  /** Media journaled so far, in seconds: where the next segment starts in the VOD. */
  private journaledSeconds = 0;
  private loaded = false;
  private dirty = false;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly opts: RenditionRecorderOptions) {}

  /** Something changed in the directory: journal and upload what is new. */
  rescan(): void {
    this.dirty = true;
    if (this.running || this.abort.signal.aborted) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.dirty) this.rescan();
    });
  }

  /** Resolves once every file now in the directory is journaled and uploaded. */
  async drain(): Promise<void> {
    for (;;) {
      this.rescan();
      await this.running;
      if (this.abort.signal.aborted) throw new Error('the recorder was closed before it caught up');
      if (!this.dirty && this.pending.length === 0) return;
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.dirty && !this.abort.signal.aborted) {
      this.dirty = false;
      try {
        if (!this.loaded) await this.load();
        await this.journalNew();
        await this.uploadPending();
        await this.pruneLocal();
        failures = 0;
      } catch (err) {
        // Database or disk trouble: keep the state in memory and try the whole pass again.
        failures += 1;
        this.opts.log.error({ err, rendition: this.opts.rendition }, 'recording pass failed; retrying');
        this.dirty = true;
        await pause(backoffDelay(failures, this.opts.backoff), this.abort.signal);
      }
    }
  }

  private async load(): Promise<void> {
    for (const row of await this.opts.store.journaled(this.opts.vodId, this.opts.rendition)) {
      this.journaledFiles.add(row.file);
      if (row.state === 'pending') this.pending.push(row);
      if (row.kind !== 'segment' || row.msn === null) continue;
      this.journaledSeconds += row.duration_s ?? 0;
      if (this.nextMsn === null || row.msn >= this.nextMsn) {
        this.nextMsn = row.msn + 1;
        this.lastRun = row.run;
      }
      if (row.state === 'uploaded') this.storedOnDisk.push(row.msn);
    }
    // Older stored segments were deleted before the restart; only the recent ones may remain.
    this.storedOnDisk = this.storedOnDisk.slice(-(this.opts.keepSegments + 100));
    this.loaded = true;
  }

  private file(name: string): string {
    return path.join(this.opts.dir, name);
  }

  private async journalNew(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const { vodId, rendition, store } = this.opts;
    const runs = names.flatMap((n) => (INIT.exec(n) ? [Number(INIT.exec(n)![1])] : [])).sort((a, b) => a - b);
    for (const run of runs) {
      const name = `init-${run}.mp4`;
      if (!this.initTimes.has(run)) this.initTimes.set(run, (await stat(this.file(name), { bigint: true })).mtimeNs);
      if (this.journaledFiles.has(name)) continue;
      const size = (await stat(this.file(name))).size;
      this.add(await this.record({ vod_id: vodId, rendition, file: name, kind: 'init', run, msn: null, duration_s: null, discontinuity: false, size_bytes: size, file_ready_at: nsToDate(this.initTimes.get(run)!) }, [await this.init(run)]));
    }
    const msns = names.flatMap((n) => (SEGMENT.exec(n) ? [Number(SEGMENT.exec(n)![1])] : [])).sort((a, b) => a - b);
    if (msns.length > 0) this.newestMsn = Math.max(this.newestMsn, msns.at(-1)!);
    for (const msn of msns) {
      const name = `seg-${msn}.m4s`;
      if (this.journaledFiles.has(name)) continue;
      this.nextMsn ??= msn;
      if (msn < this.nextMsn) {
        this.opts.log.warn({ rendition, file: name }, 'segment older than the journal; not recorded');
        continue;
      }
      let gap = false;
      if (msn > this.nextMsn) {
        // The packager writes segments one after another, so when a later one exists an earlier
        // one that is still absent (not merely missed by this listing) will never come.
        if (await exists(this.file(`seg-${this.nextMsn}.m4s`))) {
          this.dirty = true;
          return;
        }
        this.opts.log.error({ rendition, missing: this.nextMsn, next: msn }, 'segments missing from disk; the VOD skips them');
        gap = true;
      }
      const info = await stat(this.file(name), { bigint: true });
      const run = this.runOf(info.mtimeNs);
      const data = this.opts.fresh?.take(this.file(name), Number(info.size)) ?? [await readFile(this.file(name))];
      const duration = segmentDuration(await this.init(run), data);
      const discontinuity = gap || (this.lastRun !== null && run !== this.lastRun);
      const size = data.reduce((sum, chunk) => sum + chunk.length, 0);
      const row = await this.record({ vod_id: vodId, rendition, file: name, kind: 'segment', run, msn, duration_s: duration, discontinuity, size_bytes: size, file_ready_at: nsToDate(info.mtimeNs) }, data);
      this.add(row);
      if (row.state === 'pending' && this.justRead.size < MAX_JUST_READ) this.justRead.set(name, data);
      this.nextMsn = msn + 1;
      this.lastRun = run;
      const start = this.journaledSeconds;
      this.journaledSeconds += row.duration_s ?? 0;
      // Its first fragment is what a tile is made from, and the first chunk holds it whole.
      if (this.opts.tiles?.wants(start, row.duration_s ?? 0)) this.opts.tiles.add({ msn, start, duration: row.duration_s ?? 0, init: await this.init(run), segment: data[0]! });
    }
  }

  /**
   * The ffmpeg run a segment belongs to: the newest init written strictly before it. The packager
   * writes a run's init before its segments, and the last segment of the previous run before that
   * init, so a timestamp tie goes to the earlier run.
   */
  private runOf(mtimeNs: bigint): number {
    let run = -1;
    for (const [n, t] of this.initTimes) if (t < mtimeNs && n > run) run = n;
    if (run < 0) run = Math.min(...this.initTimes.keys());
    if (!Number.isFinite(run)) throw new Error(`no init section in ${this.opts.dir}`);
    return run;
  }

  private async init(run: number): Promise<Buffer> {
    let data = this.initBytes.get(run);
    if (!data) {
      data = await readFile(this.file(`init-${run}.mp4`));
      this.initBytes.set(run, data);
    }
    return data;
  }

  private add(row: JournalRow): void {
    this.journaledFiles.add(row.file);
    if (row.state === 'pending') this.pending.push(row);
    else this.stored(row);
  }

  /** An uploaded segment's local copy may go once it is out of the live window (pruneLocal). */
  private stored(row: JournalRow): void {
    if (row.kind === 'segment' && row.msn !== null && !this.storedOnDisk.includes(row.msn)) this.storedOnDisk.push(row.msn);
  }

  /**
   * Journals a new file. When no earlier file waits for its upload (the usual case), it is put in
   * storage first and journaled as uploaded: one query instead of an insert and an update. A crash
   * between the two leaves the file on disk and not journaled, so the next start uploads it again.
   * A failed put journals it as pending, and the upload loop retries it.
   */
  private async record(row: NewJournalRow, data: Buffer[]): Promise<JournalRow> {
    if (this.pending.length === 0) {
      const uploaded = await this.put(row, data).then(() => true, () => false);
      if (uploaded) return this.opts.store.journal(row, new Date());
    }
    return this.opts.store.journal(row);
  }

  /** Storage on this machine takes the file itself (putLocalFile); other storage gets `data`, the file's bytes. */
  private put(row: Pick<JournalRow, 'kind' | 'file'>, data: Buffer[]): Promise<void> {
    const key = `${this.opts.prefix}/${this.opts.rendition}/${row.file}`;
    const options = { contentType: row.kind === 'init' ? 'video/mp4' : 'video/iso.segment', cacheControl: IMMUTABLE };
    const { storage } = this.opts;
    if (storage.putLocalFile) return storage.putLocalFile(key, this.file(row.file), options);
    return storage.put(key, data.length === 1 ? data[0]! : Buffer.concat(data), options);
  }

  private async uploadPending(): Promise<void> {
    const { store, rendition, log } = this.opts;
    let attempt = 0;
    while (this.pending.length > 0 && !this.abort.signal.aborted) {
      const row = this.pending[0]!;
      let data: Buffer[];
      try {
        data = this.justRead.get(row.file) ?? [await readFile(this.file(row.file))];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        log.error({ rendition, file: row.file }, 'a journaled file vanished before its upload; the VOD lacks it');
        await store.forget(row.id);
        this.pending.shift();
        continue;
      }
      try {
        await this.put(row, data);
      } catch (err) {
        attempt += 1;
        const delay = backoffDelay(attempt, this.opts.backoff);
        log.warn({ rendition, file: row.file, attempt, retryInMs: delay, error: (err as Error).message }, 'upload failed; retrying');
        await store.markAttemptFailed(row.id, (err as Error).message).catch(() => {});
        await pause(delay, this.abort.signal);
        // New files keep being journaled while storage is away, so the journal never lags the disk.
        if (!this.abort.signal.aborted) await this.journalNew();
        continue;
      }
      attempt = 0;
      this.justRead.delete(row.file);
      await store.markUploaded(row.id);
      this.pending.shift();
      this.stored(row);
      // Files that arrived meanwhile go up in the same pass, still in order.
      if (this.pending.length === 0 && this.dirty) {
        this.dirty = false;
        await this.journalNew();
      }
    }
  }

  private async pruneLocal(): Promise<void> {
    const limit = this.newestMsn - this.opts.keepSegments;
    const keep: number[] = [];
    for (const msn of this.storedOnDisk) {
      if (msn <= limit) await rm(this.file(`seg-${msn}.m4s`), { force: true });
      else keep.push(msn);
    }
    this.storedOnDisk = keep;
  }
}

function nsToDate(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
