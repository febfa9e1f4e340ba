// Incremental ISO-BMFF reader for the fragmented MP4 (CMAF) ffmpeg writes to one rendition's pipe.
// push() takes chunks as they arrive and returns whole units: the init section (ftyp + moov) and
// one fragment per moof + mdat, with the timing the LL-HLS packager needs.
//
// Assumption: one output carries at most one video and one audio track (muxed A/V per rendition).
// Timing (timescale, baseMediaDecodeTime, duration, independent) comes from the first video track,
// or the first track when there is no video; every track's own figures are in `tracks`. The box
// parsing itself is in fmp4-boxes.ts.
import { Fmp4Error, parseTraf, parseTrak, readBoxes, type Box, type TrackFragment, type TrackInfo } from './fmp4-boxes.ts';

export { Fmp4Error, readBoxes, type Box, type TrackFragment, type TrackInfo } from './fmp4-boxes.ts';

export const MAX_BOX_SIZE = 64 * 1024 * 1024;

export interface InitEvent {
  type: 'init';
  /** ftyp + moov, the EXT-X-MAP file */
  data: Buffer;
  /** timescale of the timing track */
  timescale: number;
  /** the HLS CODECS attribute: every track's codec, video first */
  codec: string;
  tracks: TrackInfo[];
}

export interface FragmentEvent {
  type: 'fragment';
  /** styp/prft/sidx if any, then moof + mdat */
  data: Buffer;
  /** the timing track's figures, in its timescale; zeros if the moof has no run of that track */
  baseMediaDecodeTime: number;
  duration: number;
  independent: boolean;
  sampleCount: number;
  tracks: TrackFragment[];
}

export type Fmp4Event = InitEvent | FragmentEvent;

/** Top-level boxes we never need: dropped when they arrive between units. */
const IGNORED = new Set(['free', 'skip', 'mfra', 'udta', 'meta']);

export class Fmp4Reader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** offset, from the start of the buffered bytes, of the next box header to read */
  private scan = 0;
  /** offset of the moof in the unit being collected, -1 before one arrives */
  private moofAt = -1;
  private tracks: TrackInfo[] = [];
  private defaults = new Map<number, { duration: number; flags: number }>();
  private timingTrack = -1;
  private timingEnd = 0;
  private failure: Fmp4Error | null = null;

  constructor(private readonly maxBoxSize = MAX_BOX_SIZE) {}

  push(chunk: Buffer): Fmp4Event[] {
    if (this.failure) throw this.failure;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const events: Fmp4Event[] = [];
    try {
      for (let box = this.nextBox(); box; box = this.nextBox()) {
        const start = this.scan;
        this.scan += box.size;
        if (IGNORED.has(box.type) && start === 0) {
          this.take(this.scan);
        } else if (box.type === 'moov') {
          const data = this.take(this.scan);
          events.push(this.parseInit(data, data.subarray(start)));
        } else if (box.type === 'moof') {
          if (this.tracks.length === 0) throw new Fmp4Error('moof before moov');
          if (this.moofAt >= 0) throw new Fmp4Error('moof without mdat');
          this.moofAt = start;
        } else if (box.type === 'mdat') {
          if (this.moofAt < 0) throw new Fmp4Error('mdat without moof: not fragmented MP4');
          const moof = this.moofAt;
          this.moofAt = -1;
          const data = this.take(this.scan);
          events.push(this.parseFragment(data, data.subarray(moof, start)));
        }
        // anything else (ftyp, styp, prft, sidx, emsg) rides along with the next unit
      }
    } catch (err) {
      this.failure = err instanceof Fmp4Error ? err : new Fmp4Error(`malformed box: ${(err as Error).message}`);
      throw this.failure;
    }
    return events;
  }

  /** Bytes held for a box that is not complete yet. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** The header at `scan` if its whole box is buffered. */
  private nextBox(): { type: string; size: number } | null {
    const header = this.peek(this.scan, 16);
    if (header.length < 8) return null;
    let size = header.readUInt32BE(0);
    const type = header.toString('latin1', 4, 8);
    if (size === 1) {
      if (header.length < 16) return null;
      const large = header.readBigUInt64BE(8);
      size = large > BigInt(this.maxBoxSize) ? Infinity : Number(large);
    } else if (size === 0) {
      throw new Fmp4Error(`box ${type} runs to the end of the stream: not usable on a live pipe`);
    } else if (size < 8) {
      throw new Fmp4Error(`box ${type} has an impossible size ${size}`);
    }
    if (size > this.maxBoxSize) throw new Fmp4Error(`box ${type} is larger than ${this.maxBoxSize} bytes`);
    return this.scan + size <= this.buffered ? { type, size } : null;
  }

  /** Up to n bytes at offset without consuming them; copies only when they straddle chunks. */
  private peek(offset: number, n: number): Buffer {
    let skip = offset;
    let i = 0;
    for (; i < this.chunks.length; i++) {
      const c = this.chunks[i] as Buffer;
      if (skip < c.length) break;
      skip -= c.length;
    }
    const first = this.chunks[i];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length - skip >= n) return first.subarray(skip, skip + n);
    const parts = [first.subarray(skip)];
    let have = first.length - skip;
    for (let j = i + 1; j < this.chunks.length && have < n; j++) {
      const c = this.chunks[j] as Buffer;
      parts.push(c.subarray(0, n - have));
      have += Math.min(c.length, n - have);
    }
    return Buffer.concat(parts, have);
  }

  /** Removes and returns the first n buffered bytes; a view, not a copy, when one chunk holds them. */
  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0] as Buffer;
        const used = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, used);
        filled += used;
        if (used === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    this.scan -= n;
    return out;
  }

  private parseInit(data: Buffer, moov: Buffer): InitEvent {
    const moovBox = readBoxes(moov)[0] as Box;
    const children = readBoxes(moovBox.payload);
    this.tracks = [];
    this.defaults.clear();
    for (const trak of children.filter((b) => b.type === 'trak')) this.tracks.push(parseTrak(trak.payload));
    if (this.tracks.length === 0) throw new Fmp4Error('moov has no track');
    const mvex = children.find((b) => b.type === 'mvex');
    for (const trex of mvex ? readBoxes(mvex.payload).filter((b) => b.type === 'trex') : []) {
      const p = trex.payload;
      // version/flags, track_ID, default_sample_description_index, duration, size, flags
      this.defaults.set(p.readUInt32BE(4), { duration: p.readUInt32BE(12), flags: p.readUInt32BE(20) });
    }
    const timing = this.tracks.find((t) => t.kind === 'video') ?? (this.tracks[0] as TrackInfo);
    this.timingTrack = timing.trackId;
    this.timingEnd = 0;
    const ordered = [...this.tracks].sort((a, b) => rank(a.kind) - rank(b.kind));
    return { type: 'init', data, timescale: timing.timescale, codec: ordered.map((t) => t.codec).join(','), tracks: this.tracks };
  }

  private parseFragment(data: Buffer, moof: Buffer): FragmentEvent {
    const tracks = readBoxes((readBoxes(moof)[0] as Box).payload)
      .filter((b) => b.type === 'traf')
      .map((traf) => parseTraf(traf.payload, this.defaults));
    const timing = tracks.find((t) => t.trackId === this.timingTrack);
    if (timing) this.timingEnd = timing.baseMediaDecodeTime + timing.duration;
    return {
      type: 'fragment',
      data,
      // a moof without the timing track sits where that track's last run ended
      baseMediaDecodeTime: timing?.baseMediaDecodeTime ?? this.timingEnd,
      duration: timing?.duration ?? 0,
      independent: timing?.independent ?? false,
      sampleCount: timing?.sampleCount ?? 0,
      tracks,
    };
  }
}

function rank(kind: TrackInfo['kind']): number {
  return kind === 'video' ? 0 : kind === 'audio' ? 1 : 2;
}

/** The boxes laid end to end in buf (no recursion). Throws on a size that overruns buf. */
