// /dashboard: the streamer's page. Signed out, it sends you to sign in.
import { api, ApiError } from '../api.ts';
import type { ChannelBody } from '../api-types.ts';
import { field, fill, h, setPageTitle, statusLine } from '../dom.ts';
import { session } from '../session.ts';
import { accountSection } from './dashboard-account.ts';
import { moderationSection } from './dashboard-moderation.ts';
import { discoverySection, webhooksSection } from './dashboard-social.ts';
import { streamSection } from './dashboard-stream.ts';
import { vodsSection } from './dashboard-vods.ts';

export async function dashboardPage(main: HTMLElement): Promise<void> {
  const user = session.user();
  if (!user) return location.replace('/signin?next=/dashboard');
  setPageTitle('Dashboard');
  const slug = user.username;
  let channel: ChannelBody;
  try {
    channel = await api<ChannelBody>(`/api/v1/channels/${encodeURIComponent(slug)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      session.clear();
      return location.replace('/signin?next=/dashboard');
    }
    throw err;
  }

  const signOut = h('button', { type: 'button' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    const refreshToken = session.refreshToken();
    if (refreshToken) await api('/api/v1/auth/logout', { method: 'POST', body: { refreshToken } }).catch(() => {});
    session.clear();
    location.assign('/');
  });

  fill(
    main,
    h('div', { class: 'row spread' }, h('h1', {}, 'Dashboard'), h('p', { class: 'row' }, h('span', { class: 'muted' }, `Signed in as ${user.username}`), signOut)),
    titleSection(channel),
    await streamSection(slug),
    await vodsSection(slug),
    await moderationSection(slug),
    discoverySection(channel),
    await webhooksSection(slug),
    await accountSection(),
  );
}

function titleSection(channel: ChannelBody): HTMLElement {
  const title = h('input', { maxlength: 140 });
  title.value = channel.title;
  const status = statusLine();
  const form = h('form', { class: 'row wrap' }, field('Stream title', title, 'Shown on the home page and above your player.'), h('button', { type: 'submit' }, 'Save title'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/channels/${encodeURIComponent(channel.slug)}`, { method: 'PATCH', auth: 'required', body: { title: title.value } });
      status.textContent = 'Title saved.';
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'ch-h' }, h('h2', { id: 'ch-h' }, 'Your channel'), h('p', {}, 'Viewers watch at ', h('a', { href: `/c/${encodeURIComponent(channel.slug)}` }, `${location.origin}/c/${channel.slug}`)), form, status);
}
