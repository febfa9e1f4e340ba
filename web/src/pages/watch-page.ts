// /c/:slug: the live player and the chat. Offline, the page says so and polls the channel; the
// moment the stream starts it plays by itself. When the stream ends it goes back to waiting.
import { api, ApiError } from '../api.ts';
import type { ChannelBody } from '../api-types.ts';
import { chatPanel } from '../chat-panel.ts';
import { fill, h, setPageTitle } from '../dom.ts';
import { clockTime, since, viewers } from '../format.ts';
import { attachPlayer } from '../player.ts';
import { playerView } from '../player-view.ts';
import { followButton } from '../follow-button.ts';
import { notFound } from './not-found.ts';

const OFFLINE_POLL_MS = 3000;
const LIVE_POLL_MS = 5000;

export async function watchPage(main: HTMLElement, slug: string): Promise<void> {
  let channel: ChannelBody;
  try {
    channel = await api<ChannelBody>(`/api/v1/channels/${encodeURIComponent(slug)}`, { auth: 'optional' });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(main, 'channel');
    throw err;
  }
  const title = h('h1', { class: 'channel-title' });
  const status = h('p', { class: 'channel-status', role: 'status' });
  const view = playerView('live', `Live stream of ${channel.slug}`);
  const offlineTitle = h('p', { class: 'offline-title' });
  const offlineHint = h('p', { class: 'muted' });
  const offline = h('div', { class: 'offline', hidden: true }, offlineTitle, offlineHint);
  const stage = h('div', { class: 'stage' }, view.root, offline);
  const chat = chatPanel(channel.slug);
  fill(main, h('div', { class: 'watch' }, h('div', { class: 'watch-main' }, stage, h('div', { class: 'channel-info' }, title, status, followButton(channel))), chat.root));

  let playingSession: string | null = null;
  let timer = 0;

  const showInfo = (c: ChannelBody) => {
    title.textContent = c.title || c.slug;
    setPageTitle(c.title ? `${c.title} (${c.slug})` : c.slug);
    if (c.live && c.startedAt) status.textContent = `${c.slug} · ${viewers(c.viewers ?? 0)} · live since ${clockTime(c.startedAt)} (${since(c.startedAt)})`;
    else status.textContent = `${c.slug} · ${c.suspended ? 'suspended' : 'offline'}`;
    offlineTitle.textContent = c.suspended ? `${c.slug} is suspended` : `${c.slug} is offline`;
    offlineHint.textContent = c.suspended ? 'This channel was suspended by the moderators of this instance.' : 'This page starts playing by itself when the stream begins.';
    main.dataset.suspended = c.suspended ? 'true' : 'false';
  };

  const goOffline = () => {
    playingSession = null;
    view.setPlayer(null);
    view.root.hidden = true;
    offline.hidden = false;
    main.dataset.state = 'offline';
  };

  const start = async (c: ChannelBody) => {
    playingSession = c.sessionId!;
    offline.hidden = true;
    view.root.hidden = false;
    main.dataset.state = 'live';
    try {
      const player = await attachPlayer(view.video, c.playbackUrl!, true, {
        onQualities: () => view.qualitiesChanged(),
        // The stream ended or went away: check the channel at once (and start over if still live).
        onFatal: () => {
          playingSession = null;
          void poll();
        },
      });
      view.setPlayer(player);
      view.autoplay();
    } catch (err) {
      fill(offline, h('p', { role: 'alert' }, (err as Error).message));
      goOffline();
    }
  };

  const poll = async () => {
    window.clearTimeout(timer);
    try {
      const c = await api<ChannelBody>(`/api/v1/channels/${encodeURIComponent(slug)}`);
      showInfo(c);
      if (c.live && c.playbackUrl && c.sessionId !== playingSession) await start(c);
      else if (!c.live) goOffline();
    } catch {
      // a failed poll is retried on schedule
    }
    timer = window.setTimeout(() => void poll(), playingSession ? LIVE_POLL_MS : OFFLINE_POLL_MS);
  };

  // The last segment of an ended stream played out: look at once rather than at the next poll.
  view.video.addEventListener('ended', () => void poll());
  showInfo(channel);
  if (channel.live && channel.playbackUrl) await start(channel);
  else goOffline();
  timer = window.setTimeout(() => void poll(), playingSession ? LIVE_POLL_MS : OFFLINE_POLL_MS);
}
