// The video element with its controls: play/pause, mute, quality (Auto + renditions), full
// screen; for live a live-edge indicator with "Back to live"; for VODs a seek bar whose hover (or
// keyboard focus) shows the preview thumbnail of that moment.
import { h } from './dom.ts';
import { duration } from './format.ts';
import { icon } from './icons.ts';
import type { Player } from './player.ts';
import { cueAt, showCue, type PreviewCue } from './seek-preview.ts';

// Further behind the edge than this and the viewer is no longer "live".
const LIVE_TOLERANCE_S = 3.5;

export interface PlayerView {
  root: HTMLElement;
  video: HTMLVideoElement;
  setPlayer(player: Player | null): void;
  setPreview(cues: PreviewCue[]): void;
  /** The player's rendition list or choice changed. */
  qualitiesChanged(): void;
  /** Starts playback; falls back to muted when the browser refuses sound without a gesture. */
  autoplay(): void;
  destroy(): void;
}

export function playerView(kind: 'live' | 'vod', label: string): PlayerView {
  const video = h('video', { playsinline: true, 'aria-label': label, preload: 'auto' });
  const playBtn = h('button', { type: 'button', class: 'ctl', 'aria-label': 'Play' }, icon('play'));
  const muteBtn = h('button', { type: 'button', class: 'ctl', 'aria-label': 'Mute' }, icon('volume'));
  const quality = h('select', { class: 'ctl', 'aria-label': 'Quality', hidden: true });
  const fullBtn = h('button', { type: 'button', class: 'ctl', 'aria-label': 'Full screen' }, icon('fullscreen'));
  const liveBadge = h('span', { class: 'live-edge', 'data-at-edge': 'true' }, 'LIVE');
  const backToLive = h('button', { type: 'button', class: 'ctl back-to-live', hidden: true }, 'Back to live');
  const seek = h('input', { type: 'range', class: 'seek', min: 0, max: 0, step: 0.1, value: 0, 'aria-label': 'Seek' });
  const time = h('span', { class: 'time', 'aria-live': 'off' }, '0:00');
  const previewBox = h('div', { class: 'preview-thumb' });
  const previewTime = h('span', { class: 'preview-time' });
  const preview = h('div', { class: 'seek-preview', hidden: true, 'aria-hidden': 'true' }, previewBox, previewTime);
  const seekWrap = h('div', { class: 'seek-wrap' }, seek, preview);

  const bar = h('div', { class: 'controls' }, playBtn, muteBtn, kind === 'live' ? liveBadge : seekWrap, kind === 'live' ? backToLive : time, h('span', { class: 'spacer' }), quality, fullBtn);
  const root = h('div', { class: 'player' }, video, bar);

  let player: Player | null = null;
  let cues: PreviewCue[] = [];
  let seeking = false;

  const syncPlay = () => {
    playBtn.replaceChildren(icon(video.paused ? 'play' : 'pause'));
    playBtn.setAttribute('aria-label', video.paused ? 'Play' : 'Pause');
  };
  const syncMute = () => {
    muteBtn.replaceChildren(icon(video.muted ? 'muted' : 'volume'));
    muteBtn.setAttribute('aria-label', video.muted ? 'Unmute' : 'Mute');
    muteBtn.classList.toggle('attention', video.muted);
  };
  const syncQualities = () => {
    const list = player?.qualities() ?? [];
    quality.hidden = list.length === 0;
    const current = player?.quality() ?? -1;
    quality.replaceChildren(h('option', { value: -1 }, 'Auto'), ...list.map((q) => h('option', { value: q.index }, q.label)));
    quality.value = String(current);
  };
  const syncTime = () => {
    if (kind === 'live') {
      const behind = player?.behindLive() ?? null;
      const atEdge = behind === null || behind < LIVE_TOLERANCE_S;
      liveBadge.dataset.atEdge = String(atEdge);
      liveBadge.textContent = atEdge ? 'LIVE' : `${Math.round(behind)} s behind`;
      backToLive.hidden = atEdge;
      return;
    }
    const total = Number.isFinite(video.duration) ? video.duration : 0;
    seek.max = String(total);
    if (!seeking) seek.value = String(video.currentTime);
    seek.setAttribute('aria-valuetext', `${duration(video.currentTime)} of ${duration(total)}`);
    time.textContent = `${duration(video.currentTime)} / ${duration(total)}`;
  };

  playBtn.addEventListener('click', () => (video.paused ? void video.play().catch(() => {}) : video.pause()));
  video.addEventListener('click', () => (video.paused ? void video.play().catch(() => {}) : video.pause()));
  muteBtn.addEventListener('click', () => {
    video.muted = !video.muted;
  });
  quality.addEventListener('change', () => player?.setQuality(Number(quality.value)));
  fullBtn.addEventListener('click', () => (document.fullscreenElement ? void document.exitFullscreen() : void root.requestFullscreen?.().catch(() => {})));
  backToLive.addEventListener('click', () => player?.goLive());
  for (const ev of ['play', 'pause', 'playing']) video.addEventListener(ev, syncPlay);
  video.addEventListener('volumechange', syncMute);
  video.addEventListener('timeupdate', syncTime);
  video.addEventListener('durationchange', syncTime);
  const ticker = window.setInterval(syncTime, 1000);

  // Seek bar: dragging or arrow keys move the preview; letting go seeks.
  const showPreviewAt = (t: number, fraction: number) => {
    const cue = cueAt(cues, t);
    if (!cue) return;
    showCue(previewBox, cue);
    previewTime.textContent = duration(t);
    preview.hidden = false;
    const width = seekWrap.clientWidth;
    const left = Math.min(Math.max(fraction * width - cue.w / 2, 0), Math.max(0, width - cue.w));
    preview.style.left = `${left}px`;
  };
  seek.addEventListener('pointermove', (e) => {
    const rect = seek.getBoundingClientRect();
    const fraction = Math.min(Math.max((e.clientX - rect.left) / rect.width, 0), 1);
    showPreviewAt(fraction * Number(seek.max), fraction);
  });
  seek.addEventListener('pointerleave', () => (preview.hidden = true));
  seek.addEventListener('blur', () => (preview.hidden = true));
  seek.addEventListener('input', () => {
    seeking = true;
    const max = Number(seek.max) || 1;
    showPreviewAt(Number(seek.value), Number(seek.value) / max);
  });
  seek.addEventListener('change', () => {
    seeking = false;
    video.currentTime = Number(seek.value);
  });

  syncPlay();
  syncMute();
  return {
    root,
    video,
    setPlayer(p) {
      player?.destroy();
      player = p;
      syncQualities();
      syncTime();
    },
    setPreview(list) {
      cues = list;
    },
    qualitiesChanged: syncQualities,
    autoplay() {
      video.play().catch(() => {
        video.muted = true;
        void video.play().catch(() => {});
      });
    },
    destroy() {
      window.clearInterval(ticker);
      player?.destroy();
      player = null;
    },
  };
}

