// Decoder configuration records as Enhanced RTMP and MP4 carry them (avcC, hvcC, av1C, AAC's
// AudioSpecificConfig, OpusHead): the picture size and the RFC 6381 / HLS CODECS string of each.
// Pure; throws CodecConfigError on a record too short or malformed to use.

export class CodecConfigError extends Error {
  override name = 'CodecConfigError';
}

export interface VideoConfig {
  codec: 'avc1' | 'hvc1' | 'av01';
  /** the record itself, the payload of the avcC / hvcC / av1C box */
  record: Buffer;
  /** RFC 6381, e.g. "avc1.64001f", "hvc1.1.6.L93.B0", "av01.0.04M.08" */
  codecString: string;
  width: number;
  height: number;
}

export interface AudioConfig {
  codec: 'mp4a' | 'Opus';
  record: Buffer;
  codecString: string;
  sampleRate: number;
  channels: number;
  /** samples per coded frame (AAC 1024; Opus frames vary, 960 = 20 ms at 48 kHz is OBS's) */
  frameSamples: number;
}

class BitReader {
  private bit = 0;
  constructor(private readonly buf: Buffer) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.bit >> 3];
      if (byte === undefined) throw new CodecConfigError('parameter set truncated');
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  skip(n: number): void {
    this.u(n);
  }
  /** Exp-Golomb unsigned (H.264 / HEVC ue(v)) */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new CodecConfigError('bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
  /** AV1 uvlc() */
  uvlc(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros >= 32) return 2 ** 32 - 1;
    return this.u(zeros) + 2 ** zeros - 1;
  }
}

/** NAL unit payload without its emulation-prevention bytes (00 00 03 → 00 00). */
function unescapeRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

const hex2 = (v: number) => v.toString(16).padStart(2, '0');

export function parseAvcC(record: Buffer): VideoConfig {
  if (record.length < 7 || record[0] !== 1) throw new CodecConfigError('not an AVCDecoderConfigurationRecord');
  const spsCount = record[5]! & 0x1f;
  if (spsCount === 0) throw new CodecConfigError('avcC without an SPS');
  const spsLength = record.readUInt16BE(6);
  if (8 + spsLength > record.length) throw new CodecConfigError('avcC SPS truncated');
  const { width, height } = h264SpsSize(unescapeRbsp(record.subarray(8, 8 + spsLength)));
  return { codec: 'avc1', record, codecString: `avc1.${hex2(record[1]!)}${hex2(record[2]!)}${hex2(record[3]!)}`, width, height };
}

function h264SpsSize(sps: Buffer): { width: number; height: number } {
  const r = new BitReader(sps);
  r.skip(8); // NAL header
  const profile = r.u(8);
  r.skip(16); // constraint flags, level
  r.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  let separateColourPlane = 0;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat === 3) separateColourPlane = r.u(1);
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (r.u(1)) {
      for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
        if (!r.u(1)) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64) && next !== 0; j++) {
          next = (last + r.se() + 256) % 256;
          if (next !== 0) last = next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const cycle = r.ue();
    for (let i = 0; i < cycle; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.skip(1); // mb_adaptive_frame_field_flag
  r.skip(1); // direct_8x8_inference_flag
  let crop = [0, 0, 0, 0];
  if (r.u(1)) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const arrayType = separateColourPlane ? 0 : chromaFormat;
  const cropX = arrayType === 0 ? 1 : arrayType === 3 ? 1 : 2;
  const cropY = (arrayType === 0 ? 1 : arrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
  return {
    width: widthMbs * 16 - cropX * (crop[0]! + crop[1]!),
    height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (crop[2]! + crop[3]!),
  };
}

export function parseHvcC(record: Buffer): VideoConfig {
  if (record.length < 23 || record[0] !== 1) throw new CodecConfigError('not an HEVCDecoderConfigurationRecord');
  const space = record[1]! >> 6;
  const tier = (record[1]! >> 5) & 1;
  const profile = record[1]! & 0x1f;
  const compat = record.readUInt32BE(2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) if (compat & (1 << i)) reversed |= 1 << (31 - i);
  const constraints = [...record.subarray(6, 12)];
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  const level = record[12]!;
  const codecString = ['hvc1', `${space ? 'ABC'[space - 1] : ''}${profile}`, (reversed >>> 0).toString(16), `${tier ? 'H' : 'L'}${level}`, ...constraints.map((b) => b.toString(16).toUpperCase())].join('.');
  // arrays of parameter sets: find the SPS (NAL type 33)
  let at = 23;
  const arrays = record[22]!;
  for (let a = 0; a < arrays && at + 3 <= record.length; a++) {
    const type = record[at]! & 0x3f;
    const count = record.readUInt16BE(at + 1);
    at += 3;
    for (let i = 0; i < count; i++) {
      if (at + 2 > record.length) throw new CodecConfigError('hvcC truncated');
      const length = record.readUInt16BE(at);
      const nal = record.subarray(at + 2, at + 2 + length);
      at += 2 + length;
      if (type === 33) return { codec: 'hvc1', record, codecString, ...hevcSpsSize(unescapeRbsp(nal)) };
    }
  }
  throw new CodecConfigError('hvcC without an SPS');
}

function hevcSpsSize(sps: Buffer): { width: number; height: number } {
  const r = new BitReader(sps);
  r.skip(16); // NAL header
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1);
  // profile_tier_level(1, maxSubLayersMinus1)
  r.skip(2 + 1 + 5 + 32 + 48 + 8);
  const subLayerFlags: Array<[number, number]> = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) subLayerFlags.push([r.u(1), r.u(1)]);
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (const [profilePresent, levelPresent] of subLayerFlags) {
    if (profilePresent) r.skip(88);
    if (levelPresent) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormat = r.ue();
  if (chromaFormat === 3) r.skip(1);
  let width = r.ue();
  let height = r.ue();
  if (r.u(1)) {
    const subWidth = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subHeight = chromaFormat === 1 ? 2 : 1;
    const [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    width -= subWidth * (left + right);
    height -= subHeight * (top + bottom);
  }
  return { width, height };
}

export function parseAv1C(record: Buffer): VideoConfig {
  if (record.length < 4 || record[0] !== 0x81) throw new CodecConfigError('not an AV1CodecConfigurationRecord');
  const profile = record[1]! >> 5;
  const level = record[1]! & 0x1f;
  const tier = record[2]! >> 7;
  const highBitdepth = (record[2]! >> 6) & 1;
  const twelveBit = (record[2]! >> 5) & 1;
  const bitDepth = profile === 2 && highBitdepth ? (twelveBit ? 12 : 10) : highBitdepth ? 10 : 8;
  const codecString = `av01.${profile}.${String(level).padStart(2, '0')}${tier ? 'H' : 'M'}.${String(bitDepth).padStart(2, '0')}`;
  const size = av1SequenceHeaderSize(record.subarray(4));
  if (!size) throw new CodecConfigError('av1C without a sequence header OBU');
  return { codec: 'av01', record, codecString, ...size };
}

function leb128(buf: Buffer, at: number): { value: number; length: number } {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const b = buf[at + i];
    if (b === undefined) throw new CodecConfigError('OBU size truncated');
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, length: i + 1 };
  }
  throw new CodecConfigError('OBU size too long');
}

/** The frame size from the first sequence header OBU among `obus` (low-overhead format). */
export function av1SequenceHeaderSize(obus: Buffer): { width: number; height: number } | null {
  let at = 0;
  while (at < obus.length) {
    const header = obus[at]!;
    const type = (header >> 3) & 0x0f;
    const extension = (header >> 2) & 1;
    const hasSize = (header >> 1) & 1;
    let payloadAt = at + 1 + extension;
    let payloadSize = obus.length - payloadAt;
    if (hasSize) {
      const size = leb128(obus, payloadAt);
      payloadAt += size.length;
      payloadSize = size.value;
    }
    if (type === 1) return av1SequenceHeader(obus.subarray(payloadAt, payloadAt + payloadSize));
    at = payloadAt + payloadSize;
  }
  return null;
}

function av1SequenceHeader(payload: Buffer): { width: number; height: number } {
  const r = new BitReader(payload);
  r.skip(3); // seq_profile
  r.skip(1); // still_picture
  const reduced = r.u(1);
  if (reduced) r.skip(5);
  else {
    let decoderModelInfo = 0;
    let bufferDelayLength = 0;
    if (r.u(1)) {
      // timing_info
      r.skip(64);
      if (r.u(1)) r.uvlc();
      decoderModelInfo = r.u(1);
      if (decoderModelInfo) {
        bufferDelayLength = r.u(5) + 1;
        r.skip(32 + 5 + 5);
      }
    }
    const initialDisplayDelay = r.u(1);
    const operatingPoints = r.u(5) + 1;
    for (let i = 0; i < operatingPoints; i++) {
      r.skip(12);
      if (r.u(5) > 7) r.skip(1);
      if (decoderModelInfo && r.u(1)) r.skip(2 * bufferDelayLength + 1);
      if (initialDisplayDelay && r.u(1)) r.skip(4);
    }
  }
  const widthBits = r.u(4) + 1;
  const heightBits = r.u(4) + 1;
  return { width: r.u(widthBits) + 1, height: r.u(heightBits) + 1 };
}

export function parseVideoConfig(codec: VideoConfig['codec'], record: Buffer): VideoConfig {
  return codec === 'avc1' ? parseAvcC(record) : codec === 'hvc1' ? parseHvcC(record) : parseAv1C(record);
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export function parseAudioSpecificConfig(record: Buffer): AudioConfig {
  const r = new BitReader(record);
  let objectType = r.u(5);
  if (objectType === 31) objectType = 32 + r.u(6);
  const rateIndex = r.u(4);
  const sampleRate = rateIndex === 15 ? r.u(24) : AAC_RATES[rateIndex];
  const channels = r.u(4);
  if (!sampleRate || objectType === 0) throw new CodecConfigError('AudioSpecificConfig with no object type or sample rate');
  // channel configuration 0 (a program config element) is rare from encoders; 2 is what players expect
  return { codec: 'mp4a', record, codecString: `mp4a.40.${objectType}`, sampleRate, channels: channels || 2, frameSamples: 1024 };
}

/** OpusHead (RFC 7845 §5.1), as Enhanced RTMP's Opus SequenceStart carries it. */
export function parseOpusHead(record: Buffer): AudioConfig {
  if (record.length < 19 || record.toString('latin1', 0, 8) !== 'OpusHead') throw new CodecConfigError('not an OpusHead');
  return { codec: 'Opus', record, codecString: 'opus', sampleRate: 48000, channels: record[9]!, frameSamples: 960 };
}

export function parseAudioConfig(codec: AudioConfig['codec'], record: Buffer): AudioConfig {
  return codec === 'mp4a' ? parseAudioSpecificConfig(record) : parseOpusHead(record);
}
