// Plays an HLS URL in a <video>: hls.js where Media Source Extensions exist (low-latency mode for
// live), the browser's own HLS otherwise (Safari on iOS). hls.js is loaded only when needed.
import type HlsType from 'hls.js';
import { keepUpWithLive } from './live-catchup.ts';

export interface Quality {
  index: number;
  label: string;
}

export interface Player {
  /** Renditions the user can pick; empty when the browser chooses (native HLS). */
  qualities(): Quality[];
  /** -1 is Auto. */
  setQuality(index: number): void;
  quality(): number;
  /** Seconds behind the live edge, or null when unknown. */
  behindLive(): number | null;
  goLive(): void;
  destroy(): void;
}

export interface PlayerEvents {
  onQualities?: () => void;
  /** The stream cannot be played any more (ended, gone, or a fatal error). */
  onFatal?: (reason: string) => void;
}

const hasMse = () => typeof window !== 'undefined' && ('MediaSource' in window || 'ManagedMediaSource' in window);

export async function attachPlayer(video: HTMLVideoElement, url: string, live: boolean, events: PlayerEvents = {}): Promise<Player> {
  if (!hasMse() && video.canPlayType('application/vnd.apple.mpegurl')) return nativePlayer(video, url, events);
  const { default: Hls } = await import('hls.js/light');
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) return nativePlayer(video, url, events);
    throw new Error('This browser cannot play HLS video.');
  }
  return hlsPlayer(Hls, video, url, live, events);
}

/**
 * hls.js settings of the live player beyond its defaults (bench:latency measures the player with
 * exactly these, and with keepUpWithLive). No maxLiveSyncPlaybackRate: keepUpWithLive sets the
 * playback rate, and hls.js would reset it to 1 whenever its own rule (a second buffered ahead)
 * does not hold. No liveSyncDuration or liveSyncDurationCount: setting either makes hls.js aim that
 * far behind the edge instead of at the playlist's PART-HOLD-BACK (3 × a 2 s segment put viewers
 * 4–6 s behind).
 */
export const LIVE_HLS_SETTINGS = { backBufferLength: 30 } as const;
const VOD_HLS_SETTINGS = { backBufferLength: 90 } as const;

function hlsPlayer(Hls: typeof HlsType, video: HTMLVideoElement, url: string, live: boolean, events: PlayerEvents): Player {
  // Live: low-latency mode and the settings above; VOD: a comfortable buffer.
  const hls = new Hls({ lowLatencyMode: live, ...(live ? LIVE_HLS_SETTINGS : VOD_HLS_SETTINGS) });
  let networkRetries = 0;
  hls.on(Hls.Events.MANIFEST_PARSED, () => events.onQualities?.());
  hls.on(Hls.Events.LEVEL_SWITCHED, () => events.onQualities?.());
  hls.on(Hls.Events.FRAG_LOADED, () => (networkRetries = 0));
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) return hls.recoverMediaError();
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries++ < 3) return hls.startLoad();
    events.onFatal?.(data.details);
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  const stopCatchUp = live ? keepUpWithLive(hls, video) : () => {};
  return {
    qualities: () => hls.levels.map((l, index) => ({ index, label: `${l.height}p${l.bitrate ? ` · ${Math.round(l.bitrate / 1000)} kbps` : ''}` })).reverse(),
    setQuality: (index) => {
      hls.currentLevel = index; // -1 gives control back to the ABR controller
      events.onQualities?.();
    },
    quality: () => (hls.autoLevelEnabled ? -1 : hls.currentLevel),
    behindLive: () => {
      const edge = hls.liveSyncPosition;
      return edge === null || edge === undefined ? null : Math.max(0, edge - video.currentTime);
    },
    goLive: () => {
      const edge = hls.liveSyncPosition;
      if (edge !== null && edge !== undefined) video.currentTime = edge;
      void video.play().catch(() => {});
    },
    destroy: () => {
      stopCatchUp();
      hls.destroy();
    },
  };
}

function nativePlayer(video: HTMLVideoElement, url: string, events: PlayerEvents): Player {
  const onError = () => events.onFatal?.(video.error?.message || 'media error');
  video.addEventListener('error', onError);
  video.src = url;
  const edge = () => (video.seekable.length > 0 ? video.seekable.end(video.seekable.length - 1) : null);
  return {
    qualities: () => [],
    setQuality: () => {},
    quality: () => -1,
    behindLive: () => {
      const e = edge();
      return e === null ? null : Math.max(0, e - video.currentTime);
    },
    goLive: () => {
      const e = edge();
      if (e !== null) video.currentTime = e;
      void video.play().catch(() => {});
    },
    destroy: () => {
      video.removeEventListener('error', onError);
      video.removeAttribute('src');
      video.load();
    },
  };
}
