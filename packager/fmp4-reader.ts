// Incremental ISO-BMFF reader for the fragmented MP4 (CMAF) ffmpeg writes to one rendition's pipe.
// push() takes chunks as they arrive and returns whole units: the init section (ftyp + moov) and
// one fragment per moof + mdat, with the timing the LL-HLS packager needs.
//
// Assumption: one output carries at most one video and one audio track (muxed A/V per rendition).
// Timing (timescale, baseMediaDecodeTime, duration, independent) comes from the first video track,
// or the first track when there is no video; every track's own figures are in `tracks`.

export const MAX_BOX_SIZE = 64 * 1024 * 1024;

export class Fmp4Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Fmp4Error';
  }
}

export interface TrackInfo {
  trackId: number;
  kind: 'video' | 'audio' | 'other';
  timescale: number;
  /** RFC 6381 codec, e.g. "avc1.64001f", "mp4a.40.2" */
  codec: string;
}

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

export interface TrackFragment {
  trackId: number;
  baseMediaDecodeTime: number;
  duration: number;
  sampleCount: number;
  independent: boolean;
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

export interface Box {
  type: string;
  /** offset of the box in the buffer given to readBoxes */
  start: number;
  size: number;
  payload: Buffer;
}

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
export function readBoxes(buf: Buffer): Box[] {
  const boxes: Box[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > buf.length) throw new Fmp4Error(`box ${type} is truncated`);
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = buf.length - at;
    }
    if (type === 'uuid') header += 16;
    if (size < header || at + size > buf.length) throw new Fmp4Error(`box ${type} overruns its parent`);
    boxes.push({ type, start: at, size, payload: buf.subarray(at + header, at + size) });
    at += size;
  }
  return boxes;
}

function child(buf: Buffer, ...path: string[]): Buffer | undefined {
  let current: Buffer | undefined = buf;
  for (const type of path) {
    current = current && readBoxes(current).find((b) => b.type === type)?.payload;
  }
  return current;
}

function parseTrak(trak: Buffer): TrackInfo {
  const tkhd = child(trak, 'tkhd');
  const mdhd = child(trak, 'mdia', 'mdhd');
  const hdlr = child(trak, 'mdia', 'hdlr');
  const stsd = child(trak, 'mdia', 'minf', 'stbl', 'stsd');
  if (!tkhd || !mdhd || !hdlr || !stsd) throw new Fmp4Error('trak lacks tkhd, mdhd, hdlr or stsd');
  // tkhd and mdhd: version 1 has 64-bit creation and modification times before the id / timescale
  const trackId = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
  const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
  if (timescale === 0) throw new Fmp4Error(`track ${trackId} has timescale 0`);
  const handler = hdlr.toString('latin1', 8, 12);
  const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
  // stsd is a full box with an entry count before its sample entries
  const entry = readBoxes(stsd.subarray(8))[0];
  return { trackId, kind, timescale, codec: entry ? sampleEntryCodec(entry) : 'unknown' };
}

function sampleEntryCodec(entry: Box): string {
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    // VisualSampleEntry: 8 bytes of SampleEntry, then 70 bytes before the child boxes
    const avcC = readBoxes(entry.payload.subarray(78)).find((b) => b.type === 'avcC')?.payload;
    if (!avcC || avcC.length < 4) return entry.type;
    return entry.type + '.' + [avcC[1], avcC[2], avcC[3]].map((v) => (v ?? 0).toString(16).padStart(2, '0')).join('');
  }
  if (entry.type === 'mp4a') {
    // AudioSampleEntry (version 0): 8 bytes of SampleEntry, then 20 bytes before the child boxes
    const esds = readBoxes(entry.payload.subarray(28)).find((b) => b.type === 'esds')?.payload;
    return esds ? mp4aCodec(esds.subarray(4)) : 'mp4a.40.2';
  }
  return entry.type;
}

/** From the ES_Descriptor: "mp4a.40.<audio object type>" for MPEG-4 audio, else "mp4a.<oti>". */
function mp4aCodec(es: Buffer): string {
  try {
    let at = 0;
    const descriptor = (tag: number): number => {
      if (es[at] !== tag) throw new Error(`descriptor tag ${tag} expected`);
      at++;
      let length = 0;
      for (let i = 0; i < 4; i++) {
        const b = es[at++] ?? 0;
        length = (length << 7) | (b & 0x7f);
        if ((b & 0x80) === 0) break;
      }
      return length;
    };
    descriptor(0x03);
    const flags = es[at + 2] ?? 0;
    at += 3 + (flags & 0x80 ? 2 : 0);
    if (flags & 0x40) at += 1 + (es[at] ?? 0);
    if (flags & 0x20) at += 2;
    descriptor(0x04);
    const oti = es[at] ?? 0;
    if (oti !== 0x40) return `mp4a.${oti.toString(16)}`;
    at += 13;
    descriptor(0x05);
    const b0 = es[at] ?? 0;
    let aot = b0 >> 3;
    if (aot === 31) aot = 32 + (((b0 & 0x07) << 3) | ((es[at + 1] ?? 0) >> 5));
    return aot === 0 ? 'mp4a.40.2' : `mp4a.40.${aot}`;
  } catch {
    // AAC-LC is what every encoder we drive writes
    return 'mp4a.40.2';
  }
}

const SAMPLE_IS_NON_SYNC = 0x10000;

function isSync(flags: number): boolean {
  const dependsOn = (flags >>> 24) & 0x3;
  return dependsOn === 2 || (flags & SAMPLE_IS_NON_SYNC) === 0;
}

function parseTraf(traf: Buffer, trex: Map<number, { duration: number; flags: number }>): TrackFragment {
  const tfhd = child(traf, 'tfhd');
  if (!tfhd) throw new Fmp4Error('traf without tfhd');
  const tfFlags = tfhd.readUInt32BE(0) & 0xffffff;
  const trackId = tfhd.readUInt32BE(4);
  // optional fields in order: base_data_offset (8), sample_description_index, default duration, size, flags
  let at = 8 + (tfFlags & 0x01 ? 8 : 0) + (tfFlags & 0x02 ? 4 : 0);
  const fallback = trex.get(trackId);
  let defaultDuration = fallback?.duration ?? 0;
  let defaultFlags = fallback?.flags ?? 0;
  if (tfFlags & 0x08) {
    defaultDuration = tfhd.readUInt32BE(at);
    at += 4;
  }
  if (tfFlags & 0x10) at += 4;
  if (tfFlags & 0x20) defaultFlags = tfhd.readUInt32BE(at);

  const tfdt = child(traf, 'tfdt');
  const baseMediaDecodeTime = !tfdt ? 0 : tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);

  let duration = 0;
  let sampleCount = 0;
  let firstFlags: number | undefined;
  for (const trun of readBoxes(traf).filter((b) => b.type === 'trun')) {
    const p = trun.payload;
    const flags = p.readUInt32BE(0) & 0xffffff;
    const count = p.readUInt32BE(4);
    let pos = 8 + (flags & 0x01 ? 4 : 0);
    let first: number | undefined;
    if (flags & 0x04) {
      first = p.readUInt32BE(pos);
      pos += 4;
    }
    const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
    if (p.length < pos + count * perSample) throw new Fmp4Error(`trun of track ${trackId} is truncated`);
    for (let i = 0; i < count; i++) {
      const sample = pos + i * perSample;
      duration += flags & 0x100 ? p.readUInt32BE(sample) : defaultDuration;
      if (i === 0 && first === undefined && flags & 0x400) {
        first = p.readUInt32BE(sample + (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0));
      }
    }
    if (sampleCount === 0 && count > 0) firstFlags = first ?? defaultFlags;
    sampleCount += count;
  }
  return { trackId, baseMediaDecodeTime, duration, sampleCount, independent: firstFlags !== undefined && isSync(firstFlags) };
}
