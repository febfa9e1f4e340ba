// Records every live session to object storage. Files on disk and rows in the database are the
// only state: watchers say which session or rendition directory changed, each rendition's
// recorder journals and uploads from the directory listing, and a session whose live_sessions row
// has ended_at is finalised into a VOD. So the archiver may run inside the server or as its own
// process (`npm run archiver`) against the same MEDIA_DIR and database, and after a crash it
// resumes from what is on disk and in the journal. Run exactly one archiver per MEDIA_DIR.
import { watch as watchDir, type FSWatcher as DirWatcher } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Bus, Unsubscribe } from '../src/bus/bus.ts';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';
import { RenditionRecorder } from './rendition-recorder.ts';
import { pause, type BackoffPolicy } from './retry-backoff.ts';
import { TileMaker } from './tile-maker.ts';
import { finalizeVod } from './vod-finalizer.ts';
import { tileRendition } from './vod-thumbnails.ts';
import { CLAIM_STALE_MS, type RecordedSession, type VodStore } from './vod-store.ts';
import type { FinalizedMetrics } from './vod-metrics.ts';
import type { FreshSegments } from '../packager/fresh-segments.ts';

export interface ArchiverOptions {
  mediaDir: string;
  store: VodStore;
  /** This node: only its own sessions are finalised here, and those of nodes lost long enough. */
  nodeId: string;
  /** NODE_LOST_FINALIZE_S: how long a lost node's sessions wait for it before another node finalises them. */
  nodeLostFinalizeMs: number;
  storage: Storage;
  log: Logger;
  ffmpegPath: string;
  /** LIVE_WINDOW_SEGMENTS: segments the live playlist lists, kept on disk */
  windowSegments: number;
  /** LIVE_TILE_BATCH: seek-preview tiles per ffmpeg run while live */
  tileBatch?: number;
  /** Optional: 'stream.ended' on the bus finalises at once instead of at the next poll. */
  bus?: Bus;
  /** How often the database is asked for sessions that ended (the fallback when no bus event comes). */
  pollMs?: number;
  /** How often session directories are listed in case the watcher missed a file. */
  rescanMs?: number;
  /** How long a finished session's directory stays (the server answers its ended live playlist a while). */
  retainEndedMs?: number;
  backoff?: BackoffPolicy;
  /** Told of every VOD this archiver finalises (/metrics). */
  metrics?: FinalizedMetrics;
  /** The live packager's segments as it writes them, when it runs in this process. */
  fresh?: FreshSegments;
}

interface SessionState {
  recorded: RecordedSession | null;
  renditions: Map<string, RenditionRecorder>;
  /** Seek-preview tiles of the tile rendition, made as it is recorded. */
  tiles: TileMaker | null;
}

const SESSION_ID = /^[0-9a-f-]{36}$/;
const RENDITION = /^[A-Za-z0-9_-]{1,32}$/;
// What is recorded: init sections and complete segments, never parts or temporary files.
const RECORDED_FILE = /^(init-\d+\.mp4|seg-\d+\.m4s)$/;
// Segments beyond the live window kept anyway, for players still fetching near its tail.
const WINDOW_MARGIN = 3;
// A session whose renditions all have a watch is listed at every this-many-th rescan.
const WATCHED_RESCAN_EVERY = 10;
// Inside a session directory, beside the renditions (which the RENDITION pattern keeps it out of).
const TILE_DIR = '.tiles';
/**
 * How long a shutdown waits for finishEnded(): the server's whole shutdown is forced after 15 s,
 * and its HTTP drain may take 8 of them.
 */
export const SHUTDOWN_FINALIZE_MS = 5000;

export class Archiver {
  private readonly liveDir: string;
  private readonly sessions = new Map<string, Promise<SessionState>>();
  private readonly finalizing = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private watcher: FSWatcher | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private poller: NodeJS.Timeout | null = null;
  private rescanner: NodeJS.Timeout | null = null;
  private rescans = 0;
  /** Sessions whose rendition directories all had a watch at their last listing. */
  private readonly watchedSessions = new Set<string>();
  private subscribing = false;
  /** Sessions whose VOD is finished (here or before a restart): nothing more to record. */
  private readonly finished = new Set<string>();
  private readonly unknown = new Set<string>();
  /** inotify watches on rendition directories, by directory. */
  private readonly dirWatchers = new Map<string, DirWatcher>();
  private closed = false;

  constructor(private readonly opts: ArchiverOptions) {
    this.liveDir = path.join(opts.mediaDir, 'live');
  }

  async start(): Promise<void> {
    await mkdir(this.liveDir, { recursive: true });
    // Sessions on disk from before a restart: pending uploads resume before anything new arrives.
    await this.rescan();
    // chokidar finds session and rendition directories as they appear. It does not look inside
    // rendition directories: it re-lists (and lstats) a whole directory on every change, and the
    // packager writes five parts a second into each (measured: a quarter of a core at 10 streams).
    // Inside them a plain inotify watch per rendition says which file arrived.
    const watcher = watch(this.liveDir, { depth: 1, ignoreInitial: true, ignored: (file) => path.basename(file).startsWith('.') });
    watcher.on('addDir', (dir) => this.onFile(path.join(dir, '.')));
    watcher.on('error', (err) => this.opts.log.error({ err }, 'watching the live media directory failed'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
    await this.subscribeEnded();
    this.poller = setInterval(() => {
      if (this.opts.bus && !this.unsubscribe) void this.subscribeEnded();
      void this.finalizeEnded();
    }, this.opts.pollMs ?? 2000).unref();
    // The watchers are the fast path, not the only one: a file can land in a directory before its
    // watch is set up (measured: whole runs recorded only at the end). A cheap listing every half
    // second bounds how far an upload can trail its segment; a session whose every rendition has
    // its watch is listed only every WATCHED_RESCAN_EVERY-th time (10 streams listed every half
    // second were 45 directory listings and 20 recording passes a second).
    this.rescanner = setInterval(() => void this.rescan(), this.opts.rescanMs ?? 500).unref();
    await this.finalizeEnded();
  }

  /**
   * 'stream.ended' finalises at once. The bus may be down (Redis unreachable): then the poll finds
   * ended sessions on its own, and the subscription is tried again at each poll.
   */
  private async subscribeEnded(): Promise<void> {
    if (!this.opts.bus || this.unsubscribe || this.subscribing || this.closed) return;
    this.subscribing = true;
    try {
      this.unsubscribe = await this.opts.bus.subscribe('stream.ended', () => void this.finalizeEnded());
    } catch (err) {
      this.opts.log.warn({ err }, 'subscribing to stream.ended failed; finding ended streams by polling until the bus is back');
    } finally {
      this.subscribing = false;
    }
  }

  /** Resolves when the session's VOD is finalised (or at once if no finalisation is running). */
  async settled(sessionId: string): Promise<void> {
    await this.finalizing.get(sessionId);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    if (this.rescanner) clearInterval(this.rescanner);
    for (const t of this.timers) clearTimeout(t);
    await this.unsubscribe?.().catch(() => {});
    await this.watcher?.close();
    for (const w of this.dirWatchers.values()) w.close();
    this.dirWatchers.clear();
    const states = await Promise.all([...this.sessions.values()].map((p) => p.catch(() => null)));
    await Promise.all(states.flatMap((s) => (s ? [...s.renditions.values()].map((r) => r.close()) : [])));
    await Promise.all(states.map((s) => s?.tiles?.close()));
    await Promise.allSettled([...this.finalizing.values()]);
  }

  private async rescan(): Promise<void> {
    if (this.closed) return;
    const all = this.rescans++ % WATCHED_RESCAN_EVERY === 0;
    const entries = await readdir(this.liveDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const id = entry.name;
      if (!entry.isDirectory() || !SESSION_ID.test(id) || this.finished.has(id) || this.finalizing.has(id)) continue;
      if (all || !this.watchedSessions.has(id)) this.touch(id, null);
    }
  }

  private onFile(file: string): void {
    const [sessionId, rendition] = path.relative(this.liveDir, file).split(path.sep);
    if (sessionId && SESSION_ID.test(sessionId)) this.touch(sessionId, rendition && RENDITION.test(rendition) ? rendition : null);
  }

  /** Something changed in a session (or one of its renditions): make sure it is being recorded. */
  private touch(sessionId: string, rendition: string | null): void {
    if (this.closed) return;
    void this.session(sessionId)
      .then(async (state) => {
        if (!state.recorded || this.closed) return;
        const names = rendition ? [rendition] : await this.renditionDirs(sessionId);
        // close() may have run meanwhile: a recorder made now would never be closed
        if (this.closed) return;
        for (const name of names) this.recorder(sessionId, state, name).rescan();
        if (rendition) return;
        const dir = path.join(this.liveDir, sessionId);
        if (names.length > 0 && names.every((name) => this.dirWatchers.has(path.join(dir, name)))) this.watchedSessions.add(sessionId);
        else this.watchedSessions.delete(sessionId);
      })
      .catch((err) => this.opts.log.error({ err, session: sessionId }, 'recording a session failed'));
  }

  private session(sessionId: string): Promise<SessionState> {
    let state = this.sessions.get(sessionId);
    if (!state) {
      state = this.opts.store.ensureVod(sessionId).then((recorded) => {
        if (!recorded) {
          // Its row may not be committed yet: ask again at the next event or rescan.
          this.sessions.delete(sessionId);
          if (!this.unknown.has(sessionId)) this.opts.log.warn({ session: sessionId }, 'media of an unknown live session; not recorded (yet)');
          this.unknown.add(sessionId);
        } else {
          this.unknown.delete(sessionId);
          if (recorded.vod.status === 'ready' || recorded.vod.status === 'failed' || recorded.vod.deleted_at) {
            this.finished.add(sessionId);
            this.scheduleRemoval(sessionId, recorded.endedAt);
          }
        }
        return { recorded, renditions: new Map(), tiles: null };
      });
      // A failed lookup (database down) is retried on the next event rather than remembered.
      state.catch(() => this.sessions.delete(sessionId));
      this.sessions.set(sessionId, state);
    }
    return state;
  }

  private recorder(sessionId: string, state: SessionState, rendition: string): RenditionRecorder {
    let recorder = state.renditions.get(rendition);
    if (!recorder) {
      const vod = state.recorded!.vod;
      const log = this.opts.log.child({ session: sessionId, vod: vod.id });
      if (rendition === tileRendition(state.recorded!.renditions)) {
        state.tiles ??= new TileMaker({ ffmpegPath: this.opts.ffmpegPath, dir: path.join(this.liveDir, sessionId, TILE_DIR, rendition), log, batch: this.opts.tileBatch });
      }
      recorder = new RenditionRecorder({
        vodId: vod.id,
        prefix: vod.storage_prefix,
        rendition,
        dir: path.join(this.liveDir, sessionId, rendition),
        storage: this.opts.storage,
        store: this.opts.store,
        log,
        keepSegments: this.opts.windowSegments + WINDOW_MARGIN,
        backoff: this.opts.backoff,
        tiles: rendition === tileRendition(state.recorded!.renditions) ? state.tiles! : undefined,
        fresh: this.opts.fresh,
      });
      state.renditions.set(rendition, recorder);
      this.watchRendition(path.join(this.liveDir, sessionId, rendition), recorder);
    }
    return recorder;
  }

  private watchRendition(dir: string, recorder: RenditionRecorder): void {
    // A watch set up after close() would keep the process alive.
    if (this.closed || this.dirWatchers.has(dir)) return;
    try {
      const w = watchDir(dir, (_event, name) => {
        if (name && RECORDED_FILE.test(String(name))) recorder.rescan();
      });
      w.on('error', () => this.unwatch(dir));
      this.dirWatchers.set(dir, w);
    } catch {
      // Gone already, or out of inotify watches: the periodic listing still records it.
    }
  }

  private unwatch(dirPrefix: string): void {
    const sessionId = path.relative(this.liveDir, dirPrefix).split(path.sep)[0];
    if (sessionId) this.watchedSessions.delete(sessionId);
    for (const [dir, w] of this.dirWatchers) {
      if (dir !== dirPrefix && !dir.startsWith(dirPrefix + path.sep)) continue;
      w.close();
      this.dirWatchers.delete(dir);
    }
  }

  /**
   * Finalises the sessions that have ended (on a shutdown, the ones this node has just ended), for
   * at most graceMs: what is not done by then (storage or the database away) is stopped by close()
   * and resumes from the disk and the journal when an archiver starts again.
   */
  async finishEnded(graceMs: number): Promise<void> {
    if (this.closed) return;
    const finished = this.finalizeEnded().then(() => Promise.allSettled([...this.finalizing.values()]));
    const done = new AbortController();
    await Promise.race([finished, pause(graceMs, done.signal)]);
    done.abort();
  }

  private async renditionDirs(sessionId: string): Promise<string[]> {
    const entries = await readdir(path.join(this.liveDir, sessionId), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && RENDITION.test(e.name)).map((e) => e.name);
  }

  private async finalizeEnded(): Promise<void> {
    if (this.closed) return;
    let ended: Array<{ sessionId: string; vodId: string; interrupted: boolean }>;
    try {
      ended = await this.opts.store.endedUnfinished(this.opts.nodeId, this.opts.nodeLostFinalizeMs);
    } catch (err) {
      this.opts.log.error({ err }, 'looking for ended sessions failed');
      return;
    }
    for (const { sessionId, interrupted } of ended) {
      if (this.finalizing.has(sessionId)) continue;
      const run = this.finalize(sessionId, interrupted)
        .catch((err) => {
          // Stopped by close(): its journal and the files on disk are where the next start goes on from.
          if (this.closed) this.opts.log.warn({ session: sessionId, reason: (err as Error).message }, 'finalising a VOD was stopped by the shutdown; this node finishes it when it starts again');
          else this.opts.log.error({ err, session: sessionId }, 'finalising a VOD failed; retrying at the next poll');
        })
        .finally(() => this.finalizing.delete(sessionId));
      this.finalizing.set(sessionId, run);
    }
  }

  private async finalize(sessionId: string, interrupted: boolean): Promise<void> {
    const state = await this.session(sessionId);
    if (!state.recorded) return;
    const vod = state.recorded.vod;
    const log = this.opts.log.child({ session: sessionId, vod: vod.id });
    // One finaliser per VOD, whichever nodes and archivers see the session end.
    if (!(await this.opts.store.claimFinalization(vod.id, this.opts.nodeId, CLAIM_STALE_MS))) return;
    if (interrupted) {
      log.warn('finalising the VOD of a node that was lost, or stopped and did not come back, from what reached storage; it is marked interrupted');
      await this.opts.store.markInterrupted(vod.id);
    }
    if (this.closed) return;
    // Everything the packager wrote is on disk by now (it ends before the session row does).
    await Promise.all((await this.renditionDirs(sessionId)).map((name) => this.recorder(sessionId, state, name).drain()));
    if (this.closed) return;
    // The last tiles are made while the playlists go up; the poster does not wait for them either.
    const tilesSettled = state.tiles?.flush() ?? Promise.resolve();
    const latest = await this.opts.store.ensureVod(sessionId);
    if (!latest || latest.vod.deleted_at) return;
    const tiles = tileRendition(latest.renditions);
    const result = await finalizeVod(
      { storage: this.opts.storage, store: this.opts.store, ffmpegPath: this.opts.ffmpegPath, log },
      latest.vod,
      path.join(this.liveDir, sessionId),
      latest.renditions,
      { rendition: tiles, dir: tiles ? path.join(this.liveDir, sessionId, TILE_DIR, tiles) : null, settled: tilesSettled },
    );
    this.opts.metrics?.onFinalized(result, interrupted);
    // Announced for followers' notifications and webhooks (social/); a bus outage loses only that.
    if (result === 'ready') {
      await this.opts.bus?.publish('vod.ready', { vodId: latest.vod.id, channelId: latest.vod.channel_id }).catch((err) => log.warn({ err }, 'announcing vod.ready failed'));
    }
    await Promise.all([...state.renditions.values()].map((r) => r.close()));
    await state.tiles?.close();
    this.unwatch(path.join(this.liveDir, sessionId));
    this.finished.add(sessionId);
    this.scheduleRemoval(sessionId, latest.endedAt);
  }

  /** A finished session's directory goes once its ended live playlist is no longer served. */
  private scheduleRemoval(sessionId: string, endedAt: Date | null): void {
    const delay = Math.max(0, (endedAt?.getTime() ?? Date.now()) + (this.opts.retainEndedMs ?? 5 * 60_000) - Date.now());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.sessions.delete(sessionId);
      this.finished.delete(sessionId);
      this.unwatch(path.join(this.liveDir, sessionId));
      void rm(path.join(this.liveDir, sessionId), { recursive: true, force: true }).catch((err) => this.opts.log.error({ err, session: sessionId }, 'removing a recorded session directory failed'));
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }
}
