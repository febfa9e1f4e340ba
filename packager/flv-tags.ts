// FLV tag bodies (what RTMP audio and video messages carry) → codec packets, for the native CMAF
// muxer. Legacy FLV (H.264 codec id 7, AAC sound format 10) and Enhanced RTMP v1 and v2 (FourCC
// extended headers, multitrack, ModEx) as the public enhanced-rtmp specification describes them.
// Pure: bytes in, packets out, a typed error for what cannot be packaged.

export type VideoFourCc = 'avc1' | 'hvc1' | 'av01';
export type AudioFourCc = 'mp4a' | 'Opus';

export class FlvTagError extends Error {
  override name = 'FlvTagError';
}

interface PacketBase {
  /** 0 for a single-track stream; the Enhanced RTMP track id otherwise */
  track: number;
  /** milliseconds (the RTMP message timestamp) */
  timestamp: number;
}

export type MediaPacket =
  | (PacketBase & { kind: 'video'; codec: VideoFourCc; type: 'config'; data: Buffer })
  | (PacketBase & { kind: 'video'; codec: VideoFourCc; type: 'frame'; keyframe: boolean; compositionOffset: number; data: Buffer })
  | (PacketBase & { kind: 'audio'; codec: AudioFourCc; type: 'config'; data: Buffer })
  | (PacketBase & { kind: 'audio'; codec: AudioFourCc; type: 'frame'; data: Buffer })
  /** a sequence end, metadata or command frame: nothing to package */
  | (PacketBase & { kind: 'video' | 'audio'; type: 'ignored' });

const VIDEO_FOURCC = new Set<string>(['avc1', 'hvc1', 'av01']);
const AUDIO_FOURCC = new Set<string>(['mp4a', 'Opus']);

const enum VideoPacketType { SequenceStart = 0, CodedFrames = 1, SequenceEnd = 2, CodedFramesX = 3, Metadata = 4, Mpeg2TsSequenceStart = 5, Multitrack = 6, ModEx = 7 }
const enum AudioPacketType { SequenceStart = 0, CodedFrames = 1, SequenceEnd = 2, MultichannelConfig = 4, Multitrack = 5, ModEx = 7 }
const enum MultitrackType { OneTrack = 0, ManyTracks = 1, ManyTracksManyCodecs = 2 }
const FRAME_KEY = 1;
const FRAME_COMMAND = 5;
const LEGACY_H264 = 7;
const SOUND_AAC = 10;
const SOUND_EX_HEADER = 9;

class Cursor {
  at = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (this.at + n > this.buf.length) throw new FlvTagError(`tag truncated: ${n} more bytes needed at ${this.at} of ${this.buf.length}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.at, 3);
    this.at += 3;
    return v;
  }
  s24(): number {
    this.need(3);
    const v = this.buf.readIntBE(this.at, 3);
    this.at += 3;
    return v;
  }
  fourCc(): string {
    this.need(4);
    const v = this.buf.toString('latin1', this.at, this.at + 4);
    this.at += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return v;
  }
}

/** Skips Enhanced RTMP v2 ModEx prefixes; returns the packet type that follows them. */
function skipModEx(c: Cursor, packetType: number): number {
  while (packetType === VideoPacketType.ModEx) {
    let size = c.u8() + 1;
    if (size === 256) size = c.u16() + 1;
    c.bytes(size);
    packetType = c.u8() & 0x0f;
  }
  return packetType;
}

/** One video message body → its packets (several for a multitrack message). */
export function parseVideoTag(body: Buffer, timestamp: number): MediaPacket[] {
  const c = new Cursor(body);
  const first = c.u8();
  const frameType = (first >> 4) & 0x07;
  if ((first & 0x80) === 0) {
    const codecId = first & 0x0f;
    if (codecId !== LEGACY_H264) throw new FlvTagError(`video codec id ${codecId} cannot be packaged (only H.264, or HEVC/AV1 over Enhanced RTMP)`);
    if (frameType === FRAME_COMMAND) return [{ kind: 'video', track: 0, timestamp, type: 'ignored' }];
    const avcPacketType = c.u8();
    const compositionOffset = c.s24();
    if (avcPacketType === 0) return [{ kind: 'video', codec: 'avc1', track: 0, timestamp, type: 'config', data: c.rest() }];
    if (avcPacketType === 1) return [{ kind: 'video', codec: 'avc1', track: 0, timestamp, type: 'frame', keyframe: frameType === FRAME_KEY, compositionOffset, data: c.rest() }];
    return [{ kind: 'video', track: 0, timestamp, type: 'ignored' }];
  }
  let packetType = skipModEx(c, first & 0x0f);
  if (frameType === FRAME_COMMAND && packetType !== VideoPacketType.Metadata) return [{ kind: 'video', track: 0, timestamp, type: 'ignored' }];
  if (packetType !== VideoPacketType.Multitrack) {
    const codec = videoFourCc(c.fourCc());
    return [videoBody(c.rest(), packetType, codec, 0, frameType, timestamp)];
  }
  const header = c.u8();
  const multitrackType = header >> 4;
  packetType = header & 0x0f;
  if (multitrackType > MultitrackType.ManyTracksManyCodecs) throw new FlvTagError(`unknown multitrack type ${multitrackType}`);
  const shared = multitrackType === MultitrackType.ManyTracksManyCodecs ? null : videoFourCc(c.fourCc());
  const packets: MediaPacket[] = [];
  while (c.at < body.length) {
    const codec = shared ?? videoFourCc(c.fourCc());
    const track = c.u8();
    const size = multitrackType === MultitrackType.OneTrack ? body.length - c.at : c.u24();
    packets.push(videoBody(c.bytes(size), packetType, codec, track, frameType, timestamp));
    if (multitrackType === MultitrackType.OneTrack) break;
  }
  return packets;
}

function videoFourCc(fourCc: string): VideoFourCc {
  if (!VIDEO_FOURCC.has(fourCc)) throw new FlvTagError(`video FourCC ${JSON.stringify(fourCc)} cannot be packaged`);
  return fourCc as VideoFourCc;
}

function videoBody(body: Buffer, packetType: number, codec: VideoFourCc, track: number, frameType: number, timestamp: number): MediaPacket {
  const c = new Cursor(body);
  switch (packetType) {
    case VideoPacketType.SequenceStart:
      return { kind: 'video', codec, track, timestamp, type: 'config', data: c.rest() };
    case VideoPacketType.CodedFrames: {
      // only AVC and HEVC carry a composition time offset here; AV1 has none
      const compositionOffset = codec === 'av01' ? 0 : c.s24();
      return { kind: 'video', codec, track, timestamp, type: 'frame', keyframe: frameType === FRAME_KEY, compositionOffset, data: c.rest() };
    }
    case VideoPacketType.CodedFramesX:
      return { kind: 'video', codec, track, timestamp, type: 'frame', keyframe: frameType === FRAME_KEY, compositionOffset: 0, data: c.rest() };
    case VideoPacketType.SequenceEnd:
    case VideoPacketType.Metadata:
      return { kind: 'video', track, timestamp, type: 'ignored' };
    default:
      throw new FlvTagError(`video packet type ${packetType} cannot be packaged`);
  }
}

/** One audio message body → its packets (several for a multitrack message). */
export function parseAudioTag(body: Buffer, timestamp: number): MediaPacket[] {
  const c = new Cursor(body);
  const first = c.u8();
  const soundFormat = first >> 4;
  if (soundFormat === SOUND_AAC) {
    const aacPacketType = c.u8();
    return [{ kind: 'audio', codec: 'mp4a', track: 0, timestamp, type: aacPacketType === 0 ? 'config' : 'frame', data: c.rest() }];
  }
  if (soundFormat !== SOUND_EX_HEADER) throw new FlvTagError(`sound format ${soundFormat} cannot be packaged (only AAC, or Opus over Enhanced RTMP)`);
  let packetType = skipModEx(c, first & 0x0f);
  if (packetType !== AudioPacketType.Multitrack) {
    const codec = audioFourCc(c.fourCc());
    return [audioBody(c.rest(), packetType, codec, 0, timestamp)];
  }
  const header = c.u8();
  const multitrackType = header >> 4;
  packetType = header & 0x0f;
  if (multitrackType > MultitrackType.ManyTracksManyCodecs) throw new FlvTagError(`unknown multitrack type ${multitrackType}`);
  const shared = multitrackType === MultitrackType.ManyTracksManyCodecs ? null : audioFourCc(c.fourCc());
  const packets: MediaPacket[] = [];
  while (c.at < body.length) {
    const codec = shared ?? audioFourCc(c.fourCc());
    const track = c.u8();
    const size = multitrackType === MultitrackType.OneTrack ? body.length - c.at : c.u24();
    packets.push(audioBody(c.bytes(size), packetType, codec, track, timestamp));
    if (multitrackType === MultitrackType.OneTrack) break;
  }
  return packets;
}

function audioFourCc(fourCc: string): AudioFourCc {
  if (!AUDIO_FOURCC.has(fourCc)) throw new FlvTagError(`audio FourCC ${JSON.stringify(fourCc)} cannot be packaged`);
  return fourCc as AudioFourCc;
}

function audioBody(body: Buffer, packetType: number, codec: AudioFourCc, track: number, timestamp: number): MediaPacket {
  switch (packetType) {
    case AudioPacketType.SequenceStart:
      return { kind: 'audio', codec, track, timestamp, type: 'config', data: body };
    case AudioPacketType.CodedFrames:
      return { kind: 'audio', codec, track, timestamp, type: 'frame', data: body };
    case AudioPacketType.SequenceEnd:
    case AudioPacketType.MultichannelConfig:
      return { kind: 'audio', track, timestamp, type: 'ignored' };
    default:
      throw new FlvTagError(`audio packet type ${packetType} cannot be packaged`);
  }
}
