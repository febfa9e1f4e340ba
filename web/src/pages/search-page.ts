// /search?q=…: channels and videos, updated as you type (the server matches the last word as a
// prefix); ?category= and ?tag= browse without words.
import { api } from '../api.ts';
import type { ChannelHit, VideoHit } from '../api-types.ts';
import { field, fill, h, setPageTitle, statusLine } from '../dom.ts';
import { date, duration } from '../format.ts';

const TYPE_DELAY_MS = 250;

export function videoHitItem(v: VideoHit): HTMLElement {
  return h(
    'li',
    { class: 'hit' },
    h('a', { href: `/v/${v.id}`, dir: 'auto' }, v.title || 'Untitled stream'),
    h('span', { class: 'muted small' }, ` · ${v.channel.slug} · ${date(v.startedAt)} · ${duration(v.durationS)} · ${v.viewCount} ${v.viewCount === 1 ? 'view' : 'views'}`),
  );
}

function channelHitItem(c: ChannelHit): HTMLElement {
  return h(
    'li',
    { class: 'hit' },
    h('a', { href: `/c/${encodeURIComponent(c.slug)}` }, c.slug),
    c.live ? h('span', { class: 'badge live' }, 'LIVE') : null,
    c.title ? h('span', { class: 'muted', dir: 'auto' }, ` · ${c.title}`) : null,
    c.category ? h('span', { class: 'muted small' }, ` · ${c.category}`) : null,
  );
}

export async function searchPage(main: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.search);
  setPageTitle('Search');
  const input = h('input', { type: 'search', name: 'q', maxlength: 200, autocomplete: 'off', value: params.get('q') ?? '' });
  const form = h('form', { role: 'search', class: 'row wrap', action: '/search' }, field('Search channels and videos', input), h('button', { type: 'submit', class: 'primary' }, 'Search'));
  const status = statusLine();
  const channels = h('ul', { class: 'plain-list', 'aria-label': 'Channels found' });
  const videos = h('ul', { class: 'plain-list', 'aria-label': 'Videos found' });
  fill(main, h('h1', {}, 'Search'), form, status, h('section', { 'aria-labelledby': 'sc-h' }, h('h2', { id: 'sc-h' }, 'Channels'), channels), h('section', { 'aria-labelledby': 'sv-h' }, h('h2', { id: 'sv-h' }, 'Videos'), videos));

  let seq = 0;
  const run = async () => {
    const q = input.value.trim();
    const query = new URLSearchParams();
    if (q) query.set('q', q);
    for (const key of ['category', 'tag']) if (params.get(key)) query.set(key, params.get(key)!);
    if (![...query.keys()].length) {
      status.textContent = 'Type a word to search.';
      fill(channels);
      fill(videos);
      return;
    }
    const mine = ++seq;
    try {
      const body = await api<{ channels: ChannelHit[]; videos: VideoHit[] }>(`/api/v1/search?${query}`);
      if (mine !== seq) return; // a later keystroke's answer wins
      status.textContent = `${body.channels.length} ${body.channels.length === 1 ? 'channel' : 'channels'}, ${body.videos.length} ${body.videos.length === 1 ? 'video' : 'videos'}.`;
      fill(channels, ...(body.channels.length ? body.channels.map(channelHitItem) : [h('li', { class: 'empty' }, 'No channels.')]));
      fill(videos, ...(body.videos.length ? body.videos.map(videoHitItem) : [h('li', { class: 'empty' }, 'No videos.')]));
      history.replaceState(null, '', `/search?${query}`);
    } catch (err) {
      if (mine === seq) status.textContent = (err as Error).message;
    }
  };
  let timer = 0;
  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void run(), TYPE_DELAY_MS);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  input.focus();
  await run();
}
