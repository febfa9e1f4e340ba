// Codec packets (from flv-tags.ts) → CMAF: an init section, then one moof + mdat per part, for
// one video track and/or one audio track. What the packager needs with each fragment (decode
// time, duration, independence) is computed here, as Fmp4Reader computes it from ffmpeg's output.
//
// Timing: video in a 90 kHz timescale from the millisecond timestamps, each frame's duration the
// distance to the next frame's decode time, so the newest frame waits for its successor (one frame
// interval). Audio in its sample rate, stepping one codec frame at a time while the millisecond
// timestamps agree to within a frame (RTMP rounds them), resynchronised where they do not.
// A fragment closes before a keyframe (so segments can start there) and before it would grow past
// the part target; partTarget 0 gives one video frame per fragment.
// A new decoder configuration closes what is pending and starts a new init section.
import { fragment, initSegment, type Sample, type TrackRun, type TrackSpec } from './cmaf-boxes.ts';
import type { AudioConfig, VideoConfig } from './codec-config.ts';

export const VIDEO_TIMESCALE = 90_000;
const VIDEO_TRACK = 1;
const AUDIO_TRACK = 2;
/** a video stall longer than this lets audio queue no further (oldest dropped) */
const MAX_QUEUED_AUDIO = 500;
const DEFAULT_FRAME = VIDEO_TIMESCALE / 30;

export interface MuxerInit {
  type: 'init';
  data: Buffer;
  /** timescale of the timing track (video when there is one) */
  timescale: number;
  /** HLS CODECS: video first */
  codec: string;
  width: number | null;
  height: number | null;
}

export interface MuxerFragment {
  type: 'fragment';
  data: Buffer;
  baseMediaDecodeTime: number;
  duration: number;
  independent: boolean;
  /** samples of the timing track */
  sampleCount: number;
}

export type MuxerEvent = MuxerInit | MuxerFragment;

export interface CmafMuxerOptions {
  /** seconds */
  partTarget: number;
  /** the publish announced video: the init section waits for its configuration */
  expectVideo: boolean;
  /** the publish announced audio: the init section waits for its configuration until the first keyframe */
  expectAudio: boolean;
}

export interface MuxerStats {
  droppedVideo: number;
  droppedAudio: number;
  inits: number;
  fragments: number;
}

interface VideoSample {
  dts: number;
  compositionOffset: number;
  keyframe: boolean;
  data: Buffer;
  duration: number;
}

export class CmafMuxer {
  private video: VideoConfig | null = null;
  private audio: AudioConfig | null = null;
  /** which tracks the current init section has; null before the first */
  private tracks: { video: VideoConfig | null; audio: AudioConfig | null } | null = null;
  private held: VideoSample | null = null;
  private videoSamples: VideoSample[] = [];
  private audioSamples: Array<{ dts: number; data: Buffer }> = [];
  private lastVideoDuration = DEFAULT_FRAME;
  private waitingForKeyframe = true;
  private audioNext: number | null = null;
  private sequence = 1;
  readonly stats: MuxerStats = { droppedVideo: 0, droppedAudio: 0, inits: 0, fragments: 0 };

  constructor(private readonly opts: CmafMuxerOptions) {}

  /** The configurations in force, for a muxer that must start a fresh output from the same stream. */
  get configs(): { video: VideoConfig | null; audio: AudioConfig | null } {
    return { video: this.video, audio: this.audio };
  }

  setVideoConfig(config: VideoConfig): MuxerEvent[] {
    if (this.video?.record.equals(config.record)) return [];
    this.video = config;
    return this.reinit();
  }

  setAudioConfig(config: AudioConfig): MuxerEvent[] {
    if (this.audio?.record.equals(config.record)) return [];
    this.audio = config;
    // before the first keyframe the init section is not written yet and simply gains the track
    return this.tracks || !this.opts.expectVideo ? this.reinit() : [];
  }

  /** dts and compositionOffset in milliseconds, as RTMP carries them. */
  pushVideo(dtsMs: number, compositionOffsetMs: number, keyframe: boolean, data: Buffer): MuxerEvent[] {
    const out: MuxerEvent[] = [];
    if (!this.video || (this.waitingForKeyframe && !keyframe)) {
      this.stats.droppedVideo += 1;
      return out;
    }
    if (!this.tracks?.video) out.push(...this.writeInit());
    let dts = Math.round(dtsMs * VIDEO_TIMESCALE / 1000);
    if (this.waitingForKeyframe) {
      this.waitingForKeyframe = false;
      this.dropAudioBefore(dts);
    }
    const pts = dts + Math.round(compositionOffsetMs * VIDEO_TIMESCALE / 1000);
    const held = this.held;
    if (held) {
      let duration = dts - held.dts;
      // decode times must rise: a repeated or backwards one gets the last good frame interval
      if (duration <= 0 || duration > 10 * VIDEO_TIMESCALE) {
        duration = this.lastVideoDuration;
        dts = held.dts + duration;
      } else {
        this.lastVideoDuration = duration;
      }
      held.duration = duration;
      const target = this.opts.partTarget * VIDEO_TIMESCALE;
      // a frame longer than the ones before it (a gap, or millisecond jitter) must not push the part
      // past its target: the part closes before it (§4.4.4.9: no part longer than PART-TARGET)
      if (this.videoSamples.length > 0 && this.pendingVideo() + duration > target) out.push(...this.cut(false));
      this.videoSamples.push(held);
      // close when the next frame (assumed as long as this one, give or take the millisecond RTMP rounds to) would not fit
      if (keyframe || this.pendingVideo() + duration > target + VIDEO_TIMESCALE / 1000) out.push(...this.cut(false));
    }
    this.held = { dts, compositionOffset: pts - dts, keyframe, data, duration: 0 };
    return out;
  }

  pushAudio(dtsMs: number, data: Buffer): MuxerEvent[] {
    // before the first keyframe (no init section yet) audio waits in the queue with the announced configuration
    const audio = this.tracks ? this.tracks.audio : this.opts.expectVideo ? this.audio : null;
    if (!audio) {
      this.stats.droppedAudio += 1;
      return [];
    }
    const measured = Math.round(dtsMs * audio.sampleRate / 1000);
    const dts = this.audioNext !== null && Math.abs(measured - this.audioNext) <= audio.frameSamples ? this.audioNext : measured;
    this.audioNext = dts + audio.frameSamples;
    this.audioSamples.push({ dts, data });
    if (this.audioSamples.length > MAX_QUEUED_AUDIO) {
      this.audioSamples.shift();
      this.stats.droppedAudio += 1;
    }
    if (this.tracks?.video) return [];
    const queued = this.audioNext - this.audioSamples[0]!.dts;
    return queued + audio.frameSamples > this.opts.partTarget * audio.sampleRate ? this.cut(true) : [];
  }

  /** Audio queued while waiting for a keyframe: only what still sounds at the keyframe or later is kept. */
  private dropAudioBefore(videoDts: number): void {
    const audio = this.tracks?.audio;
    if (!audio) return;
    const keep = this.audioSamples.findIndex((s) => (s.dts + audio.frameSamples) * VIDEO_TIMESCALE > videoDts * audio.sampleRate);
    const dropped = keep < 0 ? this.audioSamples.length : keep;
    this.audioSamples.splice(0, dropped);
    this.stats.droppedAudio += dropped;
  }

  private pendingVideo(): number {
    return this.videoSamples.reduce((n, s) => n + s.duration, 0);
  }

  /** Drops what is pending and waits for the next keyframe (a consumer that fell behind). */
  resync(): void {
    this.held = null;
    this.videoSamples = [];
    this.audioSamples = [];
    this.audioNext = null;
    if (this.tracks?.video) this.waitingForKeyframe = true;
  }

  /** Everything pending as a last fragment (end of stream). */
  flush(): MuxerEvent[] {
    return this.cut(true);
  }

  private reinit(): MuxerEvent[] {
    const out = this.tracks ? this.cut(true) : [];
    this.tracks = null;
    this.waitingForKeyframe = true;
    if (!this.opts.expectVideo && this.audio) out.push(...this.writeInit());
    return out;
  }

  private writeInit(): MuxerEvent[] {
    const video = this.opts.expectVideo ? this.video : null;
    const audio = this.audio;
    this.tracks = { video, audio };
    const specs: TrackSpec[] = [];
    if (video) specs.push({ id: VIDEO_TRACK, timescale: VIDEO_TIMESCALE, video });
    if (audio) specs.push({ id: AUDIO_TRACK, timescale: audio.sampleRate, audio });
    if (specs.length === 0) return [];
    this.stats.inits += 1;
    return [{
      type: 'init',
      data: initSegment(specs),
      timescale: video ? VIDEO_TIMESCALE : audio!.sampleRate,
      codec: [video?.codecString, audio?.codecString].filter(Boolean).join(','),
      width: video?.width ?? null,
      height: video?.height ?? null,
    }];
  }

  /** Writes the pending samples as one fragment; `all` also takes the held frame (flush, new init). */
  private cut(all: boolean): MuxerEvent[] {
    const before: MuxerEvent[] = [];
    if (all && this.held) {
      const held = this.held;
      this.held = null;
      held.duration = this.lastVideoDuration;
      // The held frame must not push the last part past PART-TARGET either. No frame follows it,
      // so its duration is a guess, and RTMP's milliseconds make 30 fps frames 33 or 34 ms: a guess
      // up to 2 ms shorter keeps the part whole; a frame that does not fit even so closes a part of
      // its own (the last part of a segment may be short; one before it may not).
      const room = this.opts.partTarget * VIDEO_TIMESCALE - this.pendingVideo();
      if (this.videoSamples.length > 0 && held.duration > room) {
        if (room > 0 && held.duration - room <= (2 * VIDEO_TIMESCALE) / 1000) held.duration = room;
        else before.push(...this.cut(false));
      }
      this.videoSamples.push(held);
    }
    const audio = this.tracks?.audio;
    const runs: TrackRun[] = [];
    let timing: { base: number; duration: number; independent: boolean; count: number } | null = null;
    const video = this.videoSamples;
    if (video.length > 0) {
      this.videoSamples = [];
      const duration = video.reduce((n, s) => n + s.duration, 0);
      timing = { base: video[0]!.dts, duration, independent: video[0]!.keyframe, count: video.length };
      runs.push({ trackId: VIDEO_TRACK, baseMediaDecodeTime: video[0]!.dts, samples: video.map(videoRow), data: video.map((s) => s.data) });
    }
    if (audio && this.audioSamples.length > 0) {
      const end = timing ? timing.base + timing.duration : Infinity;
      // audio up to where the video of this fragment ends; the rest waits for the next one
      let n = 0;
      while (n < this.audioSamples.length && (all || this.audioSamples[n]!.dts * VIDEO_TIMESCALE < end * audio.sampleRate)) n++;
      const taken = this.audioSamples.splice(0, n);
      if (taken.length > 0) {
        const samples = taken.map((s, i) => {
          const next = taken[i + 1]?.dts ?? this.audioSamples[0]?.dts;
          const duration = next !== undefined && next > s.dts ? next - s.dts : audio.frameSamples;
          return { duration, size: s.data.length, keyframe: true, compositionOffset: 0 };
        });
        runs.push({ trackId: AUDIO_TRACK, baseMediaDecodeTime: taken[0]!.dts, samples, data: taken.map((s) => s.data) });
        if (!this.tracks?.video) timing = { base: taken[0]!.dts, duration: samples.reduce((d, s) => d + s.duration, 0), independent: true, count: taken.length };
      }
    }
    if (!timing || runs.length === 0) return before;
    this.stats.fragments += 1;
    return [...before, { type: 'fragment', data: fragment(this.sequence++, runs), baseMediaDecodeTime: timing.base, duration: timing.duration, independent: timing.independent, sampleCount: timing.count }];
  }
}

function videoRow(s: VideoSample): Sample {
  return { duration: s.duration, size: s.data.length, keyframe: s.keyframe, compositionOffset: s.compositionOffset };
}
