// ISO-BMFF box writers for CMAF (ISO/IEC 23000-19): the init section (ftyp + moov with one video
// and/or one audio track) and a fragment (moof + mdat). Pure; the read side is fmp4-boxes.ts.
import type { AudioConfig, VideoConfig } from './codec-config.ts';

export interface TrackSpec {
  id: number;
  timescale: number;
  video?: VideoConfig;
  audio?: AudioConfig;
}

export interface Sample {
  duration: number;
  size: number;
  keyframe: boolean;
  /** presentation − decode time, in the track's timescale (may be negative) */
  compositionOffset: number;
}

export interface TrackRun {
  trackId: number;
  baseMediaDecodeTime: number;
  samples: Sample[];
  data: Buffer[];
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const size = 8 + payload.reduce((n, b) => n + b.length, 0);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, ...payload], size);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version << 24) | flags) >>> 0, 0);
  return box(type, vf, ...payload);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, i * 2));
  return b;
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

export function initSegment(tracks: TrackSpec[]): Buffer {
  const brands = ['iso6', 'cmfc', 'mp41', ...(tracks.some((t) => t.video?.codec === 'av01') ? ['av01'] : [])];
  const ftyp = box('ftyp', Buffer.from('iso6', 'latin1'), u32(0), ...brands.map((b) => Buffer.from(b, 'latin1')));
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x00010000), u16(0x0100, 0), Buffer.alloc(8), MATRIX, Buffer.alloc(24), u32(Math.max(...tracks.map((t) => t.id)) + 1));
  const mvex = box('mvex', ...tracks.map((t) => fullBox('trex', 0, 0, u32(t.id, 1, 0, 0, 0))));
  return Buffer.concat([ftyp, box('moov', mvhd, ...tracks.map(trak), mvex)]);
}

function trak(t: TrackSpec): Buffer {
  const width = t.video?.width ?? 0;
  const height = t.video?.height ?? 0;
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, t.id, 0, 0, 0, 0), u16(0, 0, t.audio ? 0x0100 : 0, 0), MATRIX, u32(width * 0x10000, height * 0x10000));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, t.timescale, 0), u16(0x55c4, 0));
  const handler = t.video ? 'vide' : 'soun';
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from(handler, 'latin1'), Buffer.alloc(12), Buffer.from(t.video ? 'VideoHandler\0' : 'SoundHandler\0', 'latin1'));
  const mediaHeader = t.video ? fullBox('vmhd', 0, 1, Buffer.alloc(8)) : fullBox('smhd', 0, 0, Buffer.alloc(4));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stsd = fullBox('stsd', 0, 0, u32(1), t.video ? visualSampleEntry(t.video) : audioSampleEntry(t.audio!));
  const stbl = box('stbl', stsd, fullBox('stts', 0, 0, u32(0)), fullBox('stsc', 0, 0, u32(0)), fullBox('stsz', 0, 0, u32(0, 0)), fullBox('stco', 0, 0, u32(0)));
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)));
}

const CONFIG_BOX = { avc1: 'avcC', hvc1: 'hvcC', av01: 'av1C' } as const;

function visualSampleEntry(v: VideoConfig): Buffer {
  const fields = Buffer.concat([
    Buffer.alloc(6), u16(1), // reserved, data_reference_index
    Buffer.alloc(16), // pre_defined, reserved, pre_defined[3]
    u16(v.width, v.height), u32(0x00480000, 0x00480000, 0), u16(1),
    Buffer.alloc(32), // compressorname
    u16(0x0018, 0xffff),
  ]);
  return box(v.codec, fields, box(CONFIG_BOX[v.codec], v.record));
}

function audioSampleEntry(a: AudioConfig): Buffer {
  const fields = Buffer.concat([Buffer.alloc(6), u16(1), Buffer.alloc(8), u16(a.channels, 16, 0, 0), u32(a.sampleRate <= 0xffff ? a.sampleRate * 0x10000 : 0)]);
  return a.codec === 'mp4a' ? box('mp4a', fields, esds(a.record)) : box('Opus', fields, dOps(a.record));
}

function descriptor(tag: number, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  // sizes below 2^28 in four 7-bit groups, as most muxers write them
  const n = body.length;
  return Buffer.concat([Buffer.from([tag, ((n >> 21) & 0x7f) | 0x80, ((n >> 14) & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n & 0x7f]), body]);
}

function esds(audioSpecificConfig: Buffer): Buffer {
  const decoderConfig = descriptor(0x04, Buffer.from([0x40, 0x15, 0, 0, 0]), u32(0, 0), descriptor(0x05, audioSpecificConfig));
  return fullBox('esds', 0, 0, descriptor(0x03, u16(0), Buffer.from([0]), decoderConfig, descriptor(0x06, Buffer.from([0x02]))));
}

/** OpusSpecificBox: OpusHead's fields, big-endian, without the magic and version. */
function dOps(head: Buffer): Buffer {
  const out = Buffer.alloc(11 + (head[18] !== 0 ? 2 + (head[9] ?? 0) : 0));
  out[0] = 0;
  out[1] = head[9]!;
  out.writeUInt16BE(head.readUInt16LE(10), 2);
  out.writeUInt32BE(head.readUInt32LE(12), 4);
  out.writeInt16BE(head.readInt16LE(16), 8);
  out[10] = head[18]!;
  if (head[18] !== 0) head.copy(out, 11, 19, 19 + 2 + head[9]!);
  return box('dOps', out);
}

const KEY_FLAGS = 0x02000000; // sample_depends_on = 2 (independent)
const NON_KEY_FLAGS = 0x01010000; // depends on others, sample_is_non_sync_sample

/** One moof + mdat holding every run; data offsets point into the single mdat. */
// Fixed sizes of a fragment's boxes: mfhd; traf header + tfhd + tfdt (version 1) + trun header.
const MFHD_SIZE = 16;
const TRAF_FIXED_SIZE = 8 + 16 + 20 + 20;
const TRUN_ROW_SIZE = 16;

/**
 * moof (mfhd, then per run a traf: tfhd with default-base-is-moof, tfdt version 1, trun version 1
 * with data offset and per-sample duration, size, flags and signed composition offset) + mdat,
 * written into one buffer: every part goes through here, ten times a second per rendition.
 */
export function fragment(sequence: number, runs: TrackRun[]): Buffer {
  const moofSize = 8 + MFHD_SIZE + runs.reduce((n, run) => n + TRAF_FIXED_SIZE + TRUN_ROW_SIZE * run.samples.length, 0);
  const mdatSize = 8 + runs.reduce((n, run) => n + run.data.reduce((m, b) => m + b.length, 0), 0);
  const out = Buffer.allocUnsafe(moofSize + mdatSize);
  let at = 0;
  const head = (size: number, type: string) => {
    out.writeUInt32BE(size, at);
    out.write(type, at + 4, 'latin1');
    at += 8;
  };
  const versionFlags = (version: number, flags: number) => {
    out.writeUInt32BE(((version << 24) | flags) >>> 0, at);
    at += 4;
  };
  head(moofSize, 'moof');
  head(MFHD_SIZE, 'mfhd');
  versionFlags(0, 0);
  out.writeUInt32BE(sequence >>> 0, at);
  at += 4;
  let dataOffset = moofSize + 8;
  for (const run of runs) {
    const n = run.samples.length;
    head(TRAF_FIXED_SIZE + TRUN_ROW_SIZE * n, 'traf');
    head(16, 'tfhd');
    versionFlags(0, 0x020000); // default-base-is-moof
    out.writeUInt32BE(run.trackId >>> 0, at);
    at += 4;
    head(20, 'tfdt');
    versionFlags(1, 0);
    out.writeBigUInt64BE(BigInt(Math.max(0, Math.round(run.baseMediaDecodeTime))), at);
    at += 8;
    // version 1: signed composition offsets; data offset, duration, size, flags, offset per sample
    head(20 + TRUN_ROW_SIZE * n, 'trun');
    versionFlags(1, 0x000f01);
    out.writeUInt32BE(n, at);
    out.writeInt32BE(dataOffset, at + 4);
    at += 8;
    for (const sample of run.samples) {
      out.writeUInt32BE(sample.duration >>> 0, at);
      out.writeUInt32BE(sample.size >>> 0, at + 4);
      out.writeUInt32BE(sample.keyframe ? KEY_FLAGS : NON_KEY_FLAGS, at + 8);
      out.writeInt32BE(Math.round(sample.compositionOffset), at + 12);
      at += TRUN_ROW_SIZE;
    }
    dataOffset += run.data.reduce((m, b) => m + b.length, 0);
  }
  head(mdatSize, 'mdat');
  for (const run of runs) for (const data of run.data) at += data.copy(out, at);
  return out;
}
