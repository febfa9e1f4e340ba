// What the streamer's dashboard shows about the incoming stream, measured on the source
// rendition's fragments: bitrate over the last few seconds, frame rate, keyframe interval.
import type { MediaFragment } from './rendition-packager.ts';

export interface IngestHealth {
  bitrateKbps: number;
  fps: number;
  keyframeIntervalS: number | null;
  width: number | null;
  height: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  warnings: string[];
}

const WINDOW_S = 5;
// Above this the player cannot start a segment until the next keyframe, which adds latency.
export const MAX_GOOD_KEYFRAME_INTERVAL_S = 2;

export class StreamHealth {
  private samples: Array<{ at: number; bytes: number; seconds: number; frames: number }> = [];
  private lastKeyframeTime: number | null = null;
  private keyframeInterval: number | null = null;
  source: { width: number | null; height: number | null; videoCodec: string | null; audioCodec: string | null } = { width: null, height: null, videoCodec: null, audioCodec: null };

  onFragment(fragment: MediaFragment & { sampleCount?: number }, timescale: number): void {
    if (timescale <= 0) return;
    const start = fragment.baseMediaDecodeTime / timescale;
    const seconds = fragment.duration / timescale;
    if (fragment.independent) {
      if (this.lastKeyframeTime !== null && start > this.lastKeyframeTime) this.keyframeInterval = start - this.lastKeyframeTime;
      this.lastKeyframeTime = start;
    }
    const now = Date.now();
    this.samples.push({ at: now, bytes: fragment.data.length, seconds, frames: fragment.sampleCount ?? 0 });
    while (this.samples.length > 0 && this.samples[0]!.at < now - WINDOW_S * 1000) this.samples.shift();
  }

  snapshot(): IngestHealth {
    const seconds = this.samples.reduce((s, x) => s + x.seconds, 0);
    const bytes = this.samples.reduce((s, x) => s + x.bytes, 0);
    const frames = this.samples.reduce((s, x) => s + x.frames, 0);
    const warnings: string[] = [];
    if (this.keyframeInterval !== null && this.keyframeInterval > MAX_GOOD_KEYFRAME_INTERVAL_S + 0.05) {
      warnings.push(`Keyframe interval is ${this.keyframeInterval.toFixed(1)} s; set it to 1 or 2 s in OBS (Output → Keyframe Interval) for low latency.`);
    }
    return {
      bitrateKbps: seconds > 0 ? Math.round((bytes * 8) / seconds / 1000) : 0,
      fps: seconds > 0 && frames > 0 ? Math.round((frames / seconds) * 100) / 100 : 0,
      keyframeIntervalS: this.keyframeInterval === null ? null : Math.round(this.keyframeInterval * 100) / 100,
      ...this.source,
      warnings,
    };
  }
}
