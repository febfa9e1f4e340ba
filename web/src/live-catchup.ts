// Live catch-up for the web UI's player. A viewer's latency is settled by how long the player
// takes to start: hls.js picks its start position from the first playlist and seeks there once the
// first parts are buffered, so the time spent loading from the last keyframe, starting the
// transmuxer and decoding up to that position is added to the latency for good. hls.js 1.7's own
// catch-up (`maxLiveSyncPlaybackRate`) only speeds up while more than a second is buffered ahead;
// with a PART-HOLD-BACK of 0.3 s that leaves a late starter about a second behind. This one plays
// a little faster whenever the player is behind its target and has buffer to spare.

/** Behind the target by more than this, the viewer paused or went back on purpose: leave them there. */
export const DVR_BEHIND_S = 6;
/** Start catching up this far behind the target, with this much buffered ahead… */
const START_BEHIND_S = 0.3;
const START_AHEAD_S = 0.35;
/**
 * …and stop this close to it, or when the buffer ahead gets this thin (a stall costs more than
 * speed gains). Not at the target itself: at PART-HOLD-BACK (0.3 s) the buffer ahead is one or two
 * parts, and on a loaded 2-core machine a viewer pushed there stalled about once a minute
 * (bench:latency, three runs of 60 s; hls.js then adds a second to its target).
 */
const STOP_BEHIND_S = 0.15;
const STOP_AHEAD_S = 0.2;
/** At most 1.25×: speech stays intelligible (browsers keep the pitch) and a 1.5 s deficit is gone in 6 s. */
export const MAX_RATE = 1.25;

export interface LiveState {
  /** seconds the playhead is behind the live edge (hls.js's `latency`) */
  latency: number;
  /** where the player aims to be (hls.js's `targetLatency`, the playlist's PART-HOLD-BACK) */
  target: number;
  /** seconds buffered ahead of the playhead */
  ahead: number;
  /** the playback rate now */
  rate: number;
}

/** The playback rate for a live player in this state: 1, or up to MAX_RATE while catching up. */
export function catchUpRate({ latency, target, ahead, rate }: LiveState): number {
  const behind = latency - target;
  if (!Number.isFinite(behind) || behind > DVR_BEHIND_S) return 1;
  const catchingUp = rate > 1;
  const go = catchingUp ? behind > STOP_BEHIND_S && ahead > STOP_AHEAD_S : behind > START_BEHIND_S && ahead > START_AHEAD_S;
  if (!go) return 1;
  // proportional: 1.05× just behind, the most at a second or more; steps of 0.05 so the rate does
  // not change on every tick
  return Math.min(MAX_RATE, Math.max(1.05, Math.round((1 + behind * 0.25) * 20) / 20));
}

interface HlsLatency {
  readonly latency: number;
  readonly targetLatency: number | null;
}

/**
 * Applies catchUpRate on every `timeupdate` of a playing live video. Touches the rate only while it
 * is 1 or one this function set, so a rate the viewer chose stays. Returns a function that stops it.
 */
export function keepUpWithLive(hls: HlsLatency, video: HTMLVideoElement): () => void {
  let ours = 1;
  const onTime = () => {
    const target = hls.targetLatency;
    if (video.paused || target === null || (video.playbackRate !== 1 && video.playbackRate !== ours)) return;
    const b = video.buffered;
    const ahead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
    const rate = catchUpRate({ latency: hls.latency, target, ahead, rate: video.playbackRate });
    if (rate !== video.playbackRate) video.playbackRate = ours = rate;
  };
  video.addEventListener('timeupdate', onTime);
  return () => {
    video.removeEventListener('timeupdate', onTime);
    if (video.playbackRate === ours) video.playbackRate = 1;
  };
}
