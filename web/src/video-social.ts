// Under a recording's player: views, the like button, "Resume at 12:34", and the reports the
// server counts: a view once 10 s have played, the position every 5 s while signed in.
import { api } from './api.ts';
import type { Vod } from './api-types.ts';
import { h } from './dom.ts';
import { duration } from './format.ts';
import { session } from './session.ts';

const VIEW_AFTER_S = 10;
const POSITION_EVERY_MS = 5000;

export function videoSocial(vod: Vod, video: HTMLVideoElement): HTMLElement {
  const user = session.user();
  let liked = vod.liked ?? false;
  let likeCount = vod.likeCount ?? 0;
  const likeBtn = h('button', { type: 'button', class: 'like', 'data-testid': 'vod-like' });
  const showLike = () => {
    likeBtn.textContent = `${liked ? 'Liked' : 'Like'} (${likeCount})`;
    likeBtn.setAttribute('aria-pressed', String(liked));
  };
  showLike();
  likeBtn.disabled = !user;
  const status = h('span', { class: 'status', role: 'status' });
  likeBtn.addEventListener('click', async () => {
    try {
      const body = await api<{ liked: boolean; likeCount: number }>(`/api/v1/vods/${vod.id}/like`, { method: liked ? 'DELETE' : 'PUT', auth: 'required' });
      liked = body.liked;
      likeCount = body.likeCount;
      showLike();
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });
  const views = vod.viewCount ?? 0;
  const row = h('div', { class: 'row wrap video-social' }, h('span', { class: 'muted' }, `${views} ${views === 1 ? 'view' : 'views'}`), likeBtn, status);

  const resumeAt = vod.resumeAtS ?? null;
  if (user && resumeAt !== null && resumeAt > 5 && resumeAt < vod.durationS - 5) {
    const resume = h('button', { type: 'button', class: 'primary', 'data-testid': 'resume' }, `Resume at ${duration(resumeAt)}`);
    resume.addEventListener('click', () => {
      video.currentTime = resumeAt;
      void video.play().catch(() => {});
      resume.remove();
    });
    row.prepend(resume);
  }

  // Played time, not wall time: a paused or buffering player does not count towards a view.
  let played = 0;
  let last = video.currentTime;
  let viewSent = false;
  video.addEventListener('timeupdate', () => {
    const step = video.currentTime - last;
    last = video.currentTime;
    if (step > 0 && step < 1.5 && !video.paused) played += step;
    if (!viewSent && played >= VIEW_AFTER_S) {
      viewSent = true;
      void api(`/api/v1/vods/${vod.id}/views`, { method: 'POST', auth: 'optional', body: { playedS: Math.floor(played) } }).catch(() => {});
    }
  });
  if (user) {
    let reported = -1;
    const report = () => {
      const position = Math.floor(video.currentTime);
      if (position === reported || played < 1) return;
      reported = position;
      void api(`/api/v1/me/history/${vod.id}`, { method: 'PUT', auth: 'required', body: { positionS: position } }).catch(() => {});
    };
    window.setInterval(() => !video.paused && report(), POSITION_EVERY_MS);
    video.addEventListener('pause', report);
    window.addEventListener('pagehide', report);
  }
  return row;
}
