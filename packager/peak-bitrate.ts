// The peak bit rate of one rendition, measured over whole keyframe intervals (what a segment
// holds), for the master playlist's BANDWIDTH (§4.4.6.2: the peak segment bit rate). Pure.
import type { MediaFragment } from './rendition-packager.ts';

/** Shorter intervals (a restart, a stray keyframe) say little about the rate. */
const MIN_INTERVAL_S = 0.5;

export class PeakBitrate {
  private bytes = 0;
  private start: number | null = null;
  /** bits per second; 0 until a whole interval has been seen */
  peak = 0;

  onFragment(fragment: Pick<MediaFragment, 'baseMediaDecodeTime' | 'independent' | 'data'>, timescale: number): void {
    if (timescale <= 0) return;
    if (fragment.independent) {
      const seconds = this.start === null ? 0 : (fragment.baseMediaDecodeTime - this.start) / timescale;
      if (seconds >= MIN_INTERVAL_S) this.peak = Math.max(this.peak, (this.bytes * 8) / seconds);
      // a new run restarts its timeline (seconds < 0): start over from here
      if (seconds >= MIN_INTERVAL_S || seconds < 0 || this.start === null) {
        this.bytes = 0;
        this.start = fragment.baseMediaDecodeTime;
      }
    }
    this.bytes += fragment.data.length;
  }
}
