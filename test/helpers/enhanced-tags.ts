// MP4 samples → the RTMP audio/video message bodies an encoder sends: legacy FLV for H.264/AAC,
// Enhanced RTMP v1 (FourCC header) for HEVC, AV1 and Opus, and Enhanced RTMP v2 multitrack (one
// message per track, OneTrack type, with its track id) for OBS-style multitrack ladders.
// Returned in decode order, interleaved across tracks, with millisecond timestamps.
import type { Mp4Track } from './mp4-samples.ts';

export interface RtmpTag {
  type: 8 | 9;
  timestamp: number;
  data: Buffer;
}

export interface TagTrack {
  track: Mp4Track;
  /** Enhanced RTMP track id; with `multitrack` every message carries it */
  trackId?: number;
}

const FOURCC: Record<string, string> = { avc1: 'avc1', hvc1: 'hvc1', hev1: 'hvc1', av01: 'av01', mp4a: 'mp4a', Opus: 'Opus' };

const s24 = (v: number) => {
  const b = Buffer.alloc(3);
  b.writeIntBE(Math.round(v), 0, 3);
  return b;
};

export function buildTags(tracks: TagTrack[], opts: { enhanced: boolean; multitrack?: boolean }): RtmpTag[] {
  const tags: Array<RtmpTag & { order: number }> = [];
  let order = 0;
  for (const { track, trackId = 0 } of tracks) {
    const fourCc = FOURCC[track.entry];
    if (!fourCc) throw new Error(`no FourCC for ${track.entry}`);
    const legacy = !opts.enhanced && !opts.multitrack && (fourCc === 'avc1' || fourCc === 'mp4a');
    const video = track.kind === 'video';
    const body = (packetType: number, frameType: number, payload: Buffer[]): Buffer => {
      if (video) {
        const head = 0x80 | (frameType << 4);
        if (!opts.multitrack) return Buffer.concat([Buffer.from([head | packetType]), Buffer.from(fourCc, 'latin1'), ...payload]);
        // VideoPacketType.Multitrack (6), then OneTrack (0) | packetType, FourCC, track id
        return Buffer.concat([Buffer.from([head | 6, packetType]), Buffer.from(fourCc, 'latin1'), Buffer.from([trackId]), ...payload]);
      }
      if (!opts.multitrack) return Buffer.concat([Buffer.from([0x90 | packetType]), Buffer.from(fourCc, 'latin1'), ...payload]);
      return Buffer.concat([Buffer.from([0x90 | 5, packetType]), Buffer.from(fourCc, 'latin1'), Buffer.from([trackId]), ...payload]);
    };
    const start = track.samples[0]?.dts ?? 0;
    if (legacy) {
      tags.push(video
        ? { type: 9, timestamp: start, order: order++, data: Buffer.concat([Buffer.from([0x17, 0]), s24(0), track.config]) }
        : { type: 8, timestamp: start, order: order++, data: Buffer.concat([Buffer.from([0xaf, 0]), track.config]) });
    } else {
      tags.push({ type: video ? 9 : 8, timestamp: start, order: order++, data: body(0, 1, [track.config]) });
    }
    for (const sample of track.samples) {
      const timestamp = Math.round(sample.dts);
      let data: Buffer;
      if (legacy) {
        data = video
          ? Buffer.concat([Buffer.from([sample.keyframe ? 0x17 : 0x27, 1]), s24(sample.compositionOffsetMs), sample.data])
          : Buffer.concat([Buffer.from([0xaf, 1]), sample.data]);
      } else if (video) {
        // CodedFrames (1) carries a composition offset for AVC/HEVC; AV1 has none
        const frameType = sample.keyframe ? 1 : 2;
        data = fourCc === 'av01' ? body(1, frameType, [sample.data]) : body(1, frameType, [s24(sample.compositionOffsetMs), sample.data]);
      } else {
        data = body(1, 1, [sample.data]);
      }
      tags.push({ type: video ? 9 : 8, timestamp, order: order++, data });
    }
  }
  // decode order across tracks; configurations first
  return tags.sort((a, b) => a.timestamp - b.timestamp || (isConfig(a) === isConfig(b) ? a.order - b.order : isConfig(a) ? -1 : 1)).map(({ order: _, ...tag }) => tag);
}

/** A decoder configuration message (sequence start / header), single or multitrack. */
export function isConfig(tag: RtmpTag): boolean {
  const b0 = tag.data[0]!;
  if (tag.type === 8) return (b0 >> 4 === 10 && tag.data[1] === 0) || (b0 >> 4 === 9 && ((b0 & 0x0f) === 0 || ((b0 & 0x0f) === 5 && tag.data[1] === 0)));
  if (b0 & 0x80) return (b0 & 0x0f) === 0 || ((b0 & 0x0f) === 6 && (tag.data[1]! & 0x0f) === 0);
  return tag.data[1] === 0;
}
