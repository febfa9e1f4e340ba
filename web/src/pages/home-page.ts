// Home: who is live now (preview picture, title, viewers, since when) and the latest recordings.
import { api } from '../api.ts';
import type { LiveEntry, Vod } from '../api-types.ts';
import { fill, h, setPageTitle } from '../dom.ts';
import { clockTime, date, duration, since, viewers } from '../format.ts';
import { session } from '../session.ts';
import { videoHitItem } from './search-page.ts';
import type { VideoHit } from '../api-types.ts';

const REFRESH_MS = 15_000;

function liveCard(entry: LiveEntry): HTMLElement {
  // The picture changes every ~10 s on the server; the query keeps the browser from reusing an old one.
  const bucket = Math.floor(Date.now() / 10_000);
  const title = entry.title || `${entry.slug} is live`;
  return h(
    'li',
    { class: 'card live-card' },
    h(
      'a',
      { href: `/c/${encodeURIComponent(entry.slug)}`, class: 'card-link' },
      h('div', { class: 'thumb' }, h('img', { src: `/api/v1/channels/${encodeURIComponent(entry.slug)}/thumbnail.jpg?t=${bucket}`, alt: '', loading: 'lazy', width: 320, height: 180, onerror: (e: Event) => ((e.target as HTMLElement).hidden = true) }), h('span', { class: 'badge live' }, 'LIVE')),
      h('h3', { class: 'card-title' }, title),
    ),
    h('p', { class: 'card-meta' }, h('span', {}, entry.slug), ' · ', h('span', {}, viewers(entry.viewers)), ' · ', h('span', { title: new Date(entry.startedAt).toLocaleString() }, `live since ${clockTime(entry.startedAt)} (${since(entry.startedAt)})`)),
  );
}

export function vodCard(vod: Vod): HTMLElement {
  return h(
    'li',
    { class: 'card vod-card' },
    h(
      'a',
      { href: `/v/${vod.id}`, class: 'card-link' },
      h('div', { class: 'thumb' }, vod.thumbnailUrl ? h('img', { src: vod.thumbnailUrl, alt: '', loading: 'lazy', width: 320, height: 180 }) : null, h('span', { class: 'badge' }, duration(vod.durationS))),
      h('h3', { class: 'card-title' }, vod.title || 'Untitled stream'),
    ),
    h('p', { class: 'card-meta' }, h('span', {}, vod.channel.slug), ' · ', h('span', {}, date(vod.startedAt))),
  );
}

export async function homePage(main: HTMLElement): Promise<void> {
  setPageTitle('');
  const liveList = h('ul', { class: 'grid', 'aria-live': 'polite' });
  const vodList = h('ul', { class: 'grid' });
  const followingList = h('ul', { class: 'plain-list' });
  const trendingList = h('ul', { class: 'plain-list' });
  const categoryList = h('ul', { class: 'row wrap plain-list categories' });
  const searchInput = h('input', { type: 'search', name: 'q', maxlength: 200, 'aria-label': 'Search channels and videos', placeholder: 'Search channels and videos' });
  const signedIn = session.user() !== null;
  fill(
    main,
    h('h1', { class: 'sr-only' }, 'Spillway'),
    h('form', { role: 'search', action: '/search', class: 'row home-search' }, searchInput, h('button', { type: 'submit' }, 'Search')),
    signedIn ? h('section', { 'aria-labelledby': 'following-h' }, h('h2', { id: 'following-h' }, 'Following'), followingList) : null,
    h('section', { 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Live now'), liveList),
    h('section', { 'aria-labelledby': 'cat-h' }, h('h2', { id: 'cat-h' }, 'Categories'), categoryList),
    h('section', { 'aria-labelledby': 'trend-h' }, h('h2', { id: 'trend-h' }, 'Trending (last 48 hours)'), trendingList),
    h('section', { 'aria-labelledby': 'vods-h' }, h('h2', { id: 'vods-h' }, 'Recent streams'), vodList),
  );
  const loadSocial = async () => {
    const [following, trending, categories] = await Promise.all([
      signedIn ? api<{ channels: Array<{ slug: string; title: string; live: boolean }> }>('/api/v1/me/following', { auth: 'required' }).catch(() => ({ channels: [] })) : Promise.resolve({ channels: [] }),
      api<{ videos: VideoHit[] }>('/api/v1/trending').catch(() => ({ videos: [] })),
      api<{ categories: Array<{ name: string; live: number }> }>('/api/v1/categories').catch(() => ({ categories: [] })),
    ]);
    fill(
      followingList,
      ...(following.channels.length
        ? following.channels.map((c) => h('li', {}, h('a', { href: `/c/${encodeURIComponent(c.slug)}` }, c.slug), c.live ? h('span', { class: 'badge live' }, 'LIVE') : h('span', { class: 'muted small' }, ' · offline'), c.title ? h('span', { class: 'muted', dir: 'auto' }, ` · ${c.title}`) : null))
        : [h('li', { class: 'empty' }, 'You follow nobody yet: press Follow on a channel.')]),
    );
    fill(trendingList, ...(trending.videos.length ? trending.videos.map(videoHitItem) : [h('li', { class: 'empty' }, 'Nothing watched in the last 48 hours.')]));
    fill(categoryList, ...categories.categories.map((c) => h('li', {}, h('a', { href: `/search?category=${encodeURIComponent(c.name)}` }, c.name.replace(/-/g, ' ')), h('span', { class: 'muted small' }, ` (${c.live} live)`))));
  };
  void loadSocial();

  const loadLive = async () => {
    try {
      const { live } = await api<{ live: LiveEntry[] }>('/api/v1/live');
      if (live.length === 0) fill(liveList, h('li', { class: 'empty' }, 'Nobody is live right now.'));
      else fill(liveList, ...live.map(liveCard));
    } catch (err) {
      fill(liveList, h('li', { class: 'empty', role: 'alert' }, `Could not load live channels: ${(err as Error).message}`));
    }
  };
  const loadVods = async () => {
    try {
      const { vods } = await api<{ vods: Vod[] }>('/api/v1/vods?limit=12');
      if (vods.length === 0) fill(vodList, h('li', { class: 'empty' }, 'No recordings yet.'));
      else fill(vodList, ...vods.map(vodCard));
    } catch (err) {
      fill(vodList, h('li', { class: 'empty', role: 'alert' }, `Could not load recordings: ${(err as Error).message}`));
    }
  };
  await Promise.all([loadLive(), loadVods()]);
  window.setInterval(() => void loadLive(), REFRESH_MS);
}
