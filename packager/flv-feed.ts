// The ladder's ffmpeg input for an H.264 (+ AAC) publish: plain FLV, built from the parsed packets so
// an Enhanced RTMP `avc1` publish is fed the same way as a legacy one. FLV costs next to nothing to
// write (a tag header per frame, no boxes) and to read, and ffmpeg's FLV demuxer keeps no index of
// every sample, where its MP4 demuxer does for an endless fragmented input. HEVC and AV1 still go as
// fMP4 (CmafMuxer): Debian's ffmpeg 5.1 cannot read them from FLV.
//
// Same contract as the CmafMuxer the ladder uses otherwise: configuration setters and pushes return
// the bytes to write, nothing is written before the first keyframe, and resync() skips to the next.
import type { AudioConfig, VideoConfig } from './codec-config.ts';

const TAG_AUDIO = 8;
const TAG_VIDEO = 9;
const CODEC_AVC = 7;
const FRAME_KEY = 1;
const FRAME_INTER = 2;
/** AAC, and the flags FLV requires for it (44 kHz, 16-bit, stereo; the AudioSpecificConfig rules) */
const SOUND_AAC = 0xaf;
const HEADER_BYTES = 11;

export interface FeedChunk {
  data: Buffer;
}

export class FlvFeed {
  private video: VideoConfig | null = null;
  private audio: AudioConfig | null = null;
  private started = false;
  private waitingForKeyframe = true;
  private newestMs = 0;

  constructor(private readonly withAudio: boolean) {}

  /** The configurations in force (what a new one is compared with). */
  get configs(): { video: VideoConfig | null; audio: AudioConfig | null } {
    return { video: this.video, audio: this.audio };
  }

  setVideoConfig(config: VideoConfig): FeedChunk[] {
    if (config.codec !== 'avc1') throw new RangeError(`FLV carries H.264 here, not ${config.codec}`);
    if (this.video?.record.equals(config.record)) return [];
    this.video = config;
    // Mid-stream, a new sequence header goes in line, as RTMP itself sends it.
    return this.started ? [videoConfigTag(config, this.newestMs)] : [];
  }

  setAudioConfig(config: AudioConfig): FeedChunk[] {
    if (config.codec !== 'mp4a') throw new RangeError(`FLV carries AAC here, not ${config.codec}`);
    if (this.audio?.record.equals(config.record)) return [];
    this.audio = config;
    return this.started && this.withAudio ? [audioConfigTag(config, this.newestMs)] : [];
  }

  /** dts and compositionOffset in milliseconds, as RTMP carries them. */
  pushVideo(dtsMs: number, compositionOffsetMs: number, keyframe: boolean, data: Buffer): FeedChunk[] {
    if (!this.video || (this.waitingForKeyframe && !keyframe)) return [];
    const out: FeedChunk[] = [];
    if (!this.started) {
      // Both sequence headers first: ffmpeg creates its streams from them and stops probing.
      this.started = true;
      out.push({ data: fileHeader(this.withAudio) }, videoConfigTag(this.video, dtsMs));
      if (this.withAudio && this.audio) out.push(audioConfigTag(this.audio, dtsMs));
    }
    this.waitingForKeyframe = false;
    this.newestMs = Math.max(this.newestMs, dtsMs);
    const body = Buffer.allocUnsafe(5);
    body[0] = ((keyframe ? FRAME_KEY : FRAME_INTER) << 4) | CODEC_AVC;
    body[1] = 1;
    body.writeIntBE(compositionOffsetMs, 2, 3);
    out.push(tag(TAG_VIDEO, dtsMs, body, data));
    return out;
  }

  pushAudio(dtsMs: number, data: Buffer): FeedChunk[] {
    // Before the first keyframe there is no picture for it to go with.
    if (!this.started || !this.withAudio || !this.audio) return [];
    return [tag(TAG_AUDIO, dtsMs, Buffer.from([SOUND_AAC, 1]), data)];
  }

  /** The consumer fell behind: nothing more until the next keyframe. */
  resync(): void {
    this.waitingForKeyframe = true;
  }
}

function fileHeader(withAudio: boolean): Buffer {
  // "FLV", version 1, flags (audio 4, video 1), header size 9, then PreviousTagSize0.
  return Buffer.from([0x46, 0x4c, 0x56, 1, withAudio ? 5 : 1, 0, 0, 0, 9, 0, 0, 0, 0]);
}

function videoConfigTag(config: VideoConfig, ms: number): FeedChunk {
  return tag(TAG_VIDEO, ms, Buffer.from([(FRAME_KEY << 4) | CODEC_AVC, 0, 0, 0, 0]), config.record);
}

function audioConfigTag(config: AudioConfig, ms: number): FeedChunk {
  return tag(TAG_AUDIO, ms, Buffer.from([SOUND_AAC, 0]), config.record);
}

/** One FLV tag: header, the codec's few bytes, the payload, and the PreviousTagSize after it. */
function tag(type: number, ms: number, prefix: Buffer, payload: Buffer): FeedChunk {
  const size = prefix.length + payload.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + size + 4);
  out[0] = type;
  out.writeUIntBE(size, 1, 3);
  const ts = Math.max(0, Math.round(ms)) >>> 0;
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = (ts >>> 24) & 0xff;
  out.writeUIntBE(0, 8, 3);
  prefix.copy(out, HEADER_BYTES);
  payload.copy(out, HEADER_BYTES + prefix.length);
  out.writeUInt32BE(HEADER_BYTES + size, HEADER_BYTES + size);
  return { data: out };
}
