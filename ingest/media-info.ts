// What the publisher sends, read from its first audio/video tags and its onMetaData, so the
// packager can pass H.264 through and transcode or refuse the rest. Tags are read here rather than
// through NMS's codec_id because NMS reports 0 for FourCCs it does not know (e.g. Enhanced RTMP
// 'avc1' or multitrack) and never marks legacy codec id 12 (HEVC) headers or keyframes.
import type { NmsAvPacket, NmsRtmpSession } from './nms-types.ts';

export type VideoCodec = 'h264' | 'hevc' | 'av1' | 'vp9' | 'other';
export type AudioCodec = 'aac' | 'mp3' | 'opus' | 'flac' | 'ac3' | 'eac3' | 'other';

export interface VideoInfo {
  codec: VideoCodec;
  /** Legacy FLV codec id (7 = H.264, 12 = non-standard HEVC) or the Enhanced RTMP FourCC ('hvc1'). */
  codecId: number | string;
  /** Sent with the Enhanced RTMP extended header (FourCC). */
  enhanced: boolean;
  width: number | null;
  height: number | null;
  fps: number | null;
  /** Enhanced RTMP multitrack: each video track's id and codec, in the order they were announced */
  tracks?: Array<{ id: number; codec: VideoCodec }>;
}

export interface AudioInfo {
  codec: AudioCodec;
  codecId: number | string;
  enhanced: boolean;
  sampleRate: number | null;
  channels: number | null;
}

export interface MediaInfo {
  video: VideoInfo | null;
  audio: AudioInfo | null;
}

type PublisherMetadata = Pick<
  NmsRtmpSession,
  'videoCodec' | 'videoWidth' | 'videoHeight' | 'videoFramerate' | 'audioCodec' | 'audioSamplerate' | 'audioChannels'
>;

const VIDEO_FOURCC: Record<string, VideoCodec> = { avc1: 'h264', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
const VIDEO_FLV_ID: Record<number, VideoCodec> = { 7: 'h264', 12: 'hevc', 13: 'av1' };
const AUDIO_FOURCC: Record<string, AudioCodec> = { mp4a: 'aac', '.mp3': 'mp3', Opus: 'opus', fLaC: 'flac', 'ac-3': 'ac3', 'ec-3': 'eac3' };
const AUDIO_FLV_ID: Record<number, AudioCodec> = { 10: 'aac', 2: 'mp3' };
const VIDEO_MULTITRACK = 6;
const AUDIO_MULTITRACK = 5;
const AUDIO_EX_HEADER = 9;
const MAX_TRACKS = 16;

export class MediaInfoCollector {
  private video: Pick<VideoInfo, 'codec' | 'codecId' | 'enhanced' | 'tracks'> | null = null;
  /** multitrack: track configurations are still being announced until the first coded frame */
  private collectingTracks = false;
  private audio: Pick<AudioInfo, 'codec' | 'codecId' | 'enhanced'> | null = null;
  private metadataSeen = false;

  observe(packet: NmsAvPacket): void {
    const data = packet.data.subarray(0, packet.size);
    if (packet.codec_type === 18) this.metadataSeen = true;
    if (data.length === 0) return;
    const first = data[0] ?? 0;
    if (packet.codec_type === 9 && !this.video) {
      const enhanced = (first & 0x80) !== 0;
      if (!enhanced) {
        const id = first & 0x0f;
        this.video = { codec: VIDEO_FLV_ID[id] ?? 'other', codecId: id, enhanced };
      } else if ((first & 0x0f) === VIDEO_MULTITRACK) {
        this.video = { codec: 'other', codecId: 'multitrack', enhanced, tracks: [] };
        this.collectingTracks = true;
        this.observeTracks(data);
      } else {
        const fourcc = data.subarray(1, 5).toString('latin1');
        this.video = { codec: VIDEO_FOURCC[fourcc] ?? 'other', codecId: fourcc, enhanced };
      }
    } else if (packet.codec_type === 9 && this.collectingTracks) {
      this.observeTracks(data);
    } else if (packet.codec_type === 8 && !this.audio) {
      const format = first >> 4;
      if (format !== AUDIO_EX_HEADER) {
        this.audio = { codec: AUDIO_FLV_ID[format] ?? 'other', codecId: format, enhanced: false };
      } else if ((first & 0x0f) === AUDIO_MULTITRACK) {
        // OneTrack and ManyTracks name one FourCC for every track, ManyTracksManyCodecs (2) one per track, first at the same place
        const fourcc = data.length >= 6 ? data.subarray(2, 6).toString('latin1') : '';
        this.audio = { codec: AUDIO_FOURCC[fourcc] ?? 'other', codecId: 'multitrack', enhanced: true };
      } else {
        const fourcc = data.subarray(1, 5).toString('latin1');
        this.audio = { codec: AUDIO_FOURCC[fourcc] ?? 'other', codecId: fourcc, enhanced: true };
      }
    }
  }

  /** Enhanced RTMP v2 multitrack video: the tracks of each sequence start, until the first coded frames. */
  private observeTracks(data: Buffer): void {
    const tracks = this.video?.tracks;
    if (!tracks || (data[0]! & 0x0f) !== VIDEO_MULTITRACK || data.length < 2) return;
    const multitrackType = data[1]! >> 4;
    if ((data[1]! & 0x0f) !== 0) {
      // coded frames: every track has announced its configuration by now
      this.collectingTracks = false;
      return;
    }
    let at = 2;
    const shared = multitrackType === 2 ? null : data.toString('latin1', at, (at += 4));
    while (at < data.length && tracks.length < MAX_TRACKS) {
      const fourCc = shared ?? data.toString('latin1', at, (at += 4));
      const id = data[at++];
      if (id === undefined) return;
      if (!tracks.some((t) => t.id === id)) tracks.push({ id, codec: VIDEO_FOURCC[fourCc] ?? 'other' });
      // The publish's codec is its first track's (the source rendition), not "other".
      this.video!.codec = tracks[0]!.codec;
      if (multitrackType === 0) return;
      if (at + 3 > data.length) return;
      at += 3 + data.readUIntBE(at, 3);
    }
  }

  /** Every track the metadata announces has sent its first tag (or, without metadata, both have). */
  complete(meta: PublisherMetadata): boolean {
    if (this.collectingTracks) return false;
    if (this.video && this.audio) return true;
    if (!this.metadataSeen) return false;
    const expectsVideo = meta.videoCodec !== undefined && meta.videoCodec !== null && meta.videoCodec !== 0;
    const expectsAudio = meta.audioCodec !== undefined && meta.audioCodec !== null && meta.audioCodec !== 0;
    return (this.video !== null || !expectsVideo) && (this.audio !== null || !expectsAudio) && (this.video || this.audio) !== null;
  }

  snapshot(meta: PublisherMetadata): MediaInfo {
    return {
      video: this.video && {
        ...this.video,
        width: positive(meta.videoWidth),
        height: positive(meta.videoHeight),
        fps: positive(meta.videoFramerate),
      },
      audio: this.audio && {
        ...this.audio,
        sampleRate: positive(meta.audioSamplerate),
        channels: positive(meta.audioChannels),
      },
    };
  }
}

function positive(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}
