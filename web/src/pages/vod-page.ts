// /v/:id: a recorded stream with seek-preview thumbnails and its chat replayed in step.
import { api, ApiError } from '../api.ts';
import type { Vod } from '../api-types.ts';
import { chatReplay } from '../chat-replay.ts';
import { fill, h, setPageTitle } from '../dom.ts';
import { date, duration } from '../format.ts';
import { attachPlayer } from '../player.ts';
import { playerView } from '../player-view.ts';
import { loadPreviewTrack } from '../seek-preview.ts';
import { commentSection } from '../comment-section.ts';
import { session } from '../session.ts';
import { videoSocial } from '../video-social.ts';
import { notFound } from './not-found.ts';

export async function vodPage(main: HTMLElement, id: string): Promise<void> {
  let vod: Vod;
  try {
    vod = await api<Vod>(`/api/v1/vods/${encodeURIComponent(id)}`, { auth: 'optional' });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(main, 'recording');
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      return fill(main, h('h1', {}, 'This recording is private'), h('p', {}, err.message, ' ', h('a', { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, 'Sign in')));
    }
    throw err;
  }
  setPageTitle(vod.title || 'Recording');
  const info = h(
    'div',
    { class: 'channel-info' },
    h('h1', { class: 'channel-title' }, vod.title || 'Untitled stream'),
    h('p', { class: 'channel-status' }, h('a', { href: `/c/${encodeURIComponent(vod.channel.slug)}` }, vod.channel.slug), ` · ${date(vod.startedAt)} · ${duration(vod.durationS)}`),
  );
  if (!vod.playbackUrl) {
    const why = vod.status === 'failed' ? 'This recording could not be processed.' : 'This recording is still being processed; check back in a moment.';
    return fill(main, info, h('p', { role: 'status' }, why));
  }
  const view = playerView('vod', `Recording: ${vod.title}`);
  if (vod.thumbnailUrl) view.video.poster = vod.thumbnailUrl;
  const replay = chatReplay(vod.id, view.video);
  info.append(videoSocial(vod, view.video));
  if (vod.description) info.append(h('p', { class: 'description', dir: 'auto' }, vod.description));
  const owner = session.user()?.username.toLowerCase() === vod.channel.slug.toLowerCase();
  fill(main, h('div', { class: 'watch' }, h('div', { class: 'watch-main' }, h('div', { class: 'stage' }, view.root), info, commentSection(vod.id, { canModerate: owner })), replay.root));
  main.dataset.state = 'vod';

  const player = await attachPlayer(view.video, vod.playbackUrl, false, { onQualities: () => view.qualitiesChanged() });
  view.setPlayer(player);
  view.autoplay();
  if (vod.previewTrackUrl) view.setPreview(await loadPreviewTrack(vod.previewTrackUrl).catch(() => []));
}
