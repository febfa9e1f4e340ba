// Turns one rendition's fMP4 fragments into LL-HLS: every fragment is a part, parts are grouped
// into segments at keyframes, and the playlist state is kept in memory so blocking reloads can be
// answered the moment a part exists. Parts are kept by a PartStore (memory, then their segment's
// file) while a playlist may list them. Init sections and segments are written to disk atomically,
// for the archiver and for nginx.
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import { writeFileAtomic } from './atomic-file.ts';
import type { FreshSegments } from './fresh-segments.ts';
import { PartStore } from './part-store.ts';
import { PART_RETENTION_TARGET_DURATIONS, type MediaPlaylistState, type Part, type Segment } from './ll-hls-playlist.ts';

export interface InitSection {
  data: Buffer;
  timescale: number;
}

export interface MediaFragment {
  data: Buffer;
  /** in the init section's timescale */
  baseMediaDecodeTime: number;
  /** in the init section's timescale */
  duration: number;
  independent: boolean;
}

export interface RenditionPackagerOptions {
  name: string;
  /** MEDIA_DIR/live/<session>/<rendition> */
  dir: string;
  partTarget: number;
  /** segments close at the first keyframe after this many seconds */
  segmentTarget: number;
  targetDuration: number;
  /** segments listed in the live playlist */
  windowSegments: number;
  log: Logger;
  /** Told of each segment written, for the recorder in this process (absent when the archiver runs apart). */
  fresh?: FreshSegments;
}

export interface SegmentEvent {
  rendition: string;
  segment: Segment;
  file: string;
  mapUri: string;
}

export class RenditionPackager extends EventEmitter<{ update: []; part: []; segment: [SegmentEvent]; init: [{ rendition: string; file: string; uri: string }] }> {
  readonly state: MediaPlaylistState;
  private timescale = 0;
  private generation = -1;
  private nextPart = 0;
  /** the parts of the segment being built (their media is in `parts`) */
  private pending: Array<{ part: Part; number: number }> = [];
  private pendingStart: { wallClock: number; discontinuity: boolean; mapUri: string } | null = null;
  private runStart: { wallClock: number; decodeTime: number } | null = null;
  private nextDiscontinuity = false;
  private writes: Promise<unknown> = Promise.resolve();
  private readonly parts = new PartStore();

  constructor(private readonly opts: RenditionPackagerOptions) {
    super();
    // Every viewer's blocked playlist or part request listens for 'update': thousands is normal.
    this.setMaxListeners(0);
    this.state = {
      targetDuration: opts.targetDuration,
      partTarget: opts.partTarget,
      mapUri: '',
      segments: [],
      pendingParts: [],
      nextPartUri: null,
      discontinuitySequence: 0,
      ended: false,
    };
  }

  get name(): string {
    return this.opts.name;
  }

  /** The file name the next part will have; a GET for it may wait (preload hint). */
  get nextPartNumber(): number {
    return this.nextPart;
  }

  /** A new ffmpeg run starts with its init section; after the first, the next segment is a discontinuity. */
  async onInit(init: InitSection): Promise<void> {
    if (this.generation >= 0) {
      this.flushPending();
      this.nextDiscontinuity = true;
    }
    this.generation += 1;
    this.timescale = init.timescale;
    this.runStart = null;
    const uri = `init-${this.generation}.mp4`;
    await mkdir(this.opts.dir, { recursive: true });
    await this.enqueue(() => writeFileAtomic(path.join(this.opts.dir, uri), init.data));
    if (this.state.mapUri === '') this.state.mapUri = uri;
    this.currentMapUri = uri;
    this.emit('init', { rendition: this.opts.name, file: path.join(this.opts.dir, uri), uri });
  }

  private currentMapUri = '';

  async onFragment(fragment: MediaFragment): Promise<void> {
    if (this.timescale === 0 || this.state.ended) return;
    // A run starts at its first keyframe: audio that arrived before it has no video to go with.
    if (this.runStart === null && !fragment.independent) return;
    // Nor does a fragment without a sample of the timing track: ffmpeg ends a run with the audio
    // encoder's tail in a fragment of its own. Listed, it would be a part of DURATION=0.0 that also
    // makes the short part before it a non-final one (§4.4.4.9).
    if (fragment.duration <= 0) return;
    const seconds = fragment.duration / this.timescale;
    const pendingDuration = this.pending.reduce((sum, p) => sum + p.part.duration, 0);
    const startsSegment = fragment.independent && pendingDuration >= this.opts.segmentTarget * 0.95;
    // A source with long keyframe intervals must not grow a segment past TARGETDURATION.
    const mustClose = pendingDuration + seconds > this.opts.targetDuration + 0.49;
    if (this.pending.length > 0 && (startsSegment || mustClose)) this.closeSegment();

    this.runStart ??= { wallClock: Date.now(), decodeTime: fragment.baseMediaDecodeTime };
    if (this.pending.length === 0) {
      const wallClock = this.runStart.wallClock + ((fragment.baseMediaDecodeTime - this.runStart.decodeTime) / this.timescale) * 1000;
      this.pendingStart = { wallClock, discontinuity: this.nextDiscontinuity, mapUri: this.currentMapUri };
      this.nextDiscontinuity = false;
      this.state.pendingSegment = {
        programDateTime: new Date(wallClock),
        discontinuity: this.pendingStart.discontinuity,
        ...(this.currentMapUri !== this.state.mapUri ? { mapUri: this.currentMapUri } : {}),
      };
    }
    const number = this.nextPart++;
    const part: Part = { uri: `part-${number}.m4s`, duration: seconds, independent: fragment.independent };
    this.parts.add(number, fragment.data);
    this.pending.push({ part, number });
    this.state.pendingParts = this.pending.map((p) => p.part);
    this.state.nextPartUri = `part-${this.nextPart}.m4s`;
    this.emit('update');
    this.emit('part');
  }

  /** A part's media while a playlist may still list it (undefined before it exists and after). */
  part(number: number): Promise<Buffer | undefined> {
    return this.parts.read(number);
  }

  /** How many parts' media is held in memory (the rest of the listed ones are read from disk). */
  get partsInMemory(): number {
    return this.parts.inMemory;
  }

  /** Ends the playlist: what is pending becomes the last segment, and EXT-X-ENDLIST is written. */
  async end(): Promise<void> {
    if (this.state.ended) return;
    this.flushPending();
    this.state.ended = true;
    this.state.nextPartUri = null;
    delete this.state.pendingSegment;
    await this.writes;
    this.emit('update');
  }

  /**
   * Resolves true as soon as `until()` holds after an update (or at once), false when `timeoutMs`
   * passes first: how a blocked playlist or part request is held until the part exists.
   */
  waitFor(until: () => boolean, timeoutMs: number): Promise<boolean> {
    if (until()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onUpdate = () => {
        if (!until()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(until()), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.off('update', onUpdate);
        resolve(ok);
      };
      this.on('update', onUpdate);
    });
  }

  /** Waits for every file write issued so far. */
  idle(): Promise<unknown> {
    return this.writes;
  }

  private flushPending(): void {
    if (this.pending.length > 0) this.closeSegment();
  }

  private closeSegment(): void {
    const start = this.pendingStart!;
    const msn = this.state.segments.length > 0 ? this.state.segments.at(-1)!.mediaSequence + 1 : this.firstMsn;
    const segment: Segment = {
      mediaSequence: msn,
      uri: `seg-${msn}.m4s`,
      duration: this.pending.reduce((sum, p) => sum + p.part.duration, 0),
      parts: this.pending.map((p) => p.part),
      programDateTime: new Date(start.wallClock),
      discontinuity: start.discontinuity,
      ...(start.mapUri !== this.state.mapUri ? { mapUri: start.mapUri } : {}),
    };
    const data = this.parts.closeSegment(msn, this.pending.map((p) => p.number));
    this.pending = [];
    this.pendingStart = null;
    this.state.pendingParts = [];
    delete this.state.pendingSegment;
    this.state.segments.push(segment);
    this.dropOldParts();
    const file = path.join(this.opts.dir, segment.uri);
    const mapUri = start.mapUri;
    void this.enqueue(async () => {
      await writeFileAtomic(file, data);
      this.opts.fresh?.add(file, data);
      this.parts.written(msn, file, data);
      this.emit('segment', { rendition: this.opts.name, segment, file, mapUri });
    });
    this.slideWindow();
  }

  private firstMsn = 0;

  private slideWindow(): void {
    while (this.state.segments.length > this.opts.windowSegments) {
      const old = this.state.segments.shift()!;
      if (old.discontinuity) this.state.discontinuitySequence += 1;
      this.firstMsn = old.mediaSequence + 1;
      this.parts.forget(old.mediaSequence);
    }
    const first = this.state.segments[0];
    if (first && first.mapUri) {
      // The oldest listed segment's init becomes the playlist's EXT-X-MAP.
      this.state.mapUri = first.mapUri;
      for (const s of this.state.segments) if (s.mapUri === this.state.mapUri) delete s.mapUri;
    }
  }

  /**
   * Playlists list the parts of the last PART_RETENTION_TARGET_DURATIONS target durations; a
   * segment's parts are kept one target duration longer, for a player acting on an older
   * playlist, then only its segment file has that media.
   */
  private dropOldParts(): void {
    const keepS = (PART_RETENTION_TARGET_DURATIONS + 1) * this.state.targetDuration;
    const kept = new Set<number>();
    let fromEnd = 0;
    for (let i = this.state.segments.length - 1; i >= 0 && fromEnd <= keepS; i--) {
      kept.add(this.state.segments[i]!.mediaSequence);
      fromEnd += this.state.segments[i]!.duration;
    }
    for (const msn of this.parts.segments()) if (!kept.has(msn)) this.parts.forget(msn);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writes.then(task);
    this.writes = run.catch((err) => this.opts.log.error({ err, rendition: this.opts.name }, 'writing a media file failed'));
    return run;
  }
}
