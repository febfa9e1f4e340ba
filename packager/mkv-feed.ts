// The ladder's ffmpeg input for HEVC and AV1 publishes (and Opus audio): live Matroska, a Segment
// and Clusters of unknown size holding SimpleBlocks. ffmpeg 5.1 cannot read those codecs from FLV,
// and fed fMP4 its MP4 demuxer indexes every sample of the endless input (memory that grows for as
// long as the stream runs); its Matroska demuxer keeps nothing per block. A configuration cannot
// change inside a Segment: the ladder is started again instead (native-source.ts).
//
// Same contract as the other ladder feeds: setters and pushes return the bytes to write, nothing is
// written before the first keyframe, resync() skips to the next one.
import type { AudioConfig, VideoConfig } from './codec-config.ts';

const VIDEO_TRACK = 1;
const AUDIO_TRACK = 2;
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** a block's timestamp is an int16 offset from its cluster's: a new cluster well before that overflows */
const MAX_CLUSTER_MS = 30_000;

const CODEC_ID: Record<VideoConfig['codec'] | AudioConfig['codec'], string> = {
  avc1: 'V_MPEG4/ISO/AVC',
  hvc1: 'V_MPEGH/ISO/HEVC',
  av01: 'V_AV1',
  mp4a: 'A_AAC',
  Opus: 'A_OPUS',
};

export class MkvFeed {
  private video: VideoConfig | null = null;
  private audio: AudioConfig | null = null;
  private started = false;
  private waitingForKeyframe = true;
  private clusterMs: number | null = null;

  constructor(private readonly withAudio: boolean) {}

  /** The configurations in force (what a new one is compared with). */
  get configs(): { video: VideoConfig | null; audio: AudioConfig | null } {
    return { video: this.video, audio: this.audio };
  }

  setVideoConfig(config: VideoConfig): Array<{ data: Buffer }> {
    this.video = config;
    return [];
  }

  setAudioConfig(config: AudioConfig): Array<{ data: Buffer }> {
    this.audio = config;
    return [];
  }

  /** dts and compositionOffset in milliseconds, as RTMP carries them. */
  pushVideo(dtsMs: number, compositionOffsetMs: number, keyframe: boolean, data: Buffer): Array<{ data: Buffer }> {
    if (!this.video || (this.waitingForKeyframe && !keyframe)) return [];
    const out: Array<{ data: Buffer }> = [];
    if (!this.started) {
      this.started = true;
      out.push({ data: Buffer.concat([ebmlHeader(), element(0x18538067, UNKNOWN_SIZE), info(), tracks(this.video, this.withAudio ? this.audio : null)]) });
    }
    this.waitingForKeyframe = false;
    // Matroska times blocks by presentation; a cluster starts at each keyframe.
    const pts = dtsMs + compositionOffsetMs;
    if (keyframe || this.clusterMs === null || Math.abs(pts - this.clusterMs) > MAX_CLUSTER_MS) out.push(this.cluster(pts));
    out.push(this.block(VIDEO_TRACK, pts, keyframe, data));
    return out;
  }

  pushAudio(dtsMs: number, data: Buffer): Array<{ data: Buffer }> {
    // Before the first keyframe there is no picture for it to go with.
    if (!this.started || !this.withAudio || !this.audio || this.clusterMs === null) return [];
    const out: Array<{ data: Buffer }> = [];
    if (Math.abs(dtsMs - this.clusterMs) > MAX_CLUSTER_MS) out.push(this.cluster(dtsMs));
    out.push(this.block(AUDIO_TRACK, dtsMs, true, data));
    return out;
  }

  resync(): void {
    this.waitingForKeyframe = true;
  }

  private cluster(ms: number): { data: Buffer } {
    this.clusterMs = Math.max(0, Math.round(ms));
    return { data: Buffer.concat([id(0x1f43b675), UNKNOWN_SIZE, uint(0xe7, this.clusterMs)]) };
  }

  private block(track: number, ms: number, keyframe: boolean, data: Buffer): { data: Buffer } {
    const head = Buffer.allocUnsafe(4);
    head[0] = 0x80 | track;
    head.writeInt16BE(Math.round(ms) - this.clusterMs!, 1);
    head[3] = keyframe ? 0x80 : 0;
    return { data: Buffer.concat([id(0xa3), size(head.length + data.length), head, data]) };
  }
}

function ebmlHeader(): Buffer {
  return element(0x1a45dfa3, Buffer.concat([uint(0x4286, 1), uint(0x42f7, 1), uint(0x42f2, 4), uint(0x42f3, 8), text(0x4282, 'matroska'), uint(0x4287, 4), uint(0x4285, 2)]));
}

function info(): Buffer {
  // TimestampScale 1 ms: RTMP's own resolution.
  return element(0x1549a966, Buffer.concat([uint(0x2ad7b1, 1_000_000), text(0x4d80, 'spillway'), text(0x5741, 'spillway')]));
}

function tracks(video: VideoConfig, audio: AudioConfig | null): Buffer {
  const entries = [
    element(0xae, Buffer.concat([
      uint(0xd7, VIDEO_TRACK), uint(0x73c5, VIDEO_TRACK), uint(0x83, 1), text(0x86, CODEC_ID[video.codec]), element(0x63a2, video.record),
      element(0xe0, Buffer.concat([uint(0xb0, video.width), uint(0xba, video.height)])),
    ])),
  ];
  if (audio) {
    entries.push(element(0xae, Buffer.concat([
      uint(0xd7, AUDIO_TRACK), uint(0x73c5, AUDIO_TRACK), uint(0x83, 2), text(0x86, CODEC_ID[audio.codec]), element(0x63a2, audio.record),
      element(0xe1, Buffer.concat([float(0xb5, audio.sampleRate), uint(0x9f, audio.channels)])),
    ])));
  }
  return element(0x1654ae6b, Buffer.concat(entries));
}

function id(value: number): Buffer {
  const bytes = value > 0xffffff ? 4 : value > 0xffff ? 3 : value > 0xff ? 2 : 1;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUIntBE(value, 0, bytes);
  return out;
}

/** An element size as an 8-byte vint (never the shortest, always valid). */
function size(n: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out[0] = 0x01;
  out.writeUIntBE(Math.floor(n / 2 ** 32) & 0xffffff, 1, 3);
  out.writeUInt32BE(n >>> 0, 4);
  return out;
}

function element(elementId: number, payload: Buffer): Buffer {
  return payload === UNKNOWN_SIZE ? Buffer.concat([id(elementId), UNKNOWN_SIZE]) : Buffer.concat([id(elementId), size(payload.length), payload]);
}

function uint(elementId: number, value: number): Buffer {
  let bytes = 1;
  while (bytes < 6 && value >= 2 ** (8 * bytes)) bytes++;
  const payload = Buffer.allocUnsafe(bytes);
  payload.writeUIntBE(value, 0, bytes);
  return element(elementId, payload);
}

function float(elementId: number, value: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeDoubleBE(value);
  return element(elementId, payload);
}

function text(elementId: number, value: string): Buffer {
  return element(elementId, Buffer.from(value, 'latin1'));
}
