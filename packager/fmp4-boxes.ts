// ISO-BMFF box parsing for fragmented MP4 (CMAF): boxes laid end to end, a trak's track info and
// codec string, a traf's timing. Pure functions over buffers, used by the incremental Fmp4Reader.
import { parseAv1C, parseHvcC } from './codec-config.ts';

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

export interface TrackFragment {
  trackId: number;
  baseMediaDecodeTime: number;
  duration: number;
  sampleCount: number;
  independent: boolean;
}

export interface Box {
  type: string;
  /** offset of the box in the buffer given to readBoxes */
  start: number;
  size: number;
  payload: Buffer;
}


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

function childBox(buf: Buffer, ...path: string[]): Buffer | undefined {
  let current: Buffer | undefined = buf;
  for (const type of path) {
    current = current && readBoxes(current).find((b) => b.type === type)?.payload;
  }
  return current;
}

export function parseTrak(trak: Buffer): TrackInfo {
  const tkhd = childBox(trak, 'tkhd');
  const mdhd = childBox(trak, 'mdia', 'mdhd');
  const hdlr = childBox(trak, 'mdia', 'hdlr');
  const stsd = childBox(trak, 'mdia', 'minf', 'stbl', 'stsd');
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
  if (entry.type === 'hvc1' || entry.type === 'hev1' || entry.type === 'av01') {
    const config = readBoxes(entry.payload.subarray(78)).find((b) => b.type === (entry.type === 'av01' ? 'av1C' : 'hvcC'))?.payload;
    try {
      if (config) return entry.type === 'av01' ? parseAv1C(config).codecString : parseHvcC(config).codecString.replace(/^hvc1/, entry.type);
    } catch {
      // an unreadable record still names its codec
    }
    return entry.type;
  }
  if (entry.type === 'Opus') return 'opus';
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

export function parseTraf(traf: Buffer, trex: Map<number, { duration: number; flags: number }>): TrackFragment {
  const tfhd = childBox(traf, 'tfhd');
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

  const tfdt = childBox(traf, 'tfdt');
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
