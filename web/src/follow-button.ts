// Follow / Following toggle with the follower count, on the watch page and a recording's page.
import { api, ApiError } from './api.ts';
import type { ChannelBody } from './api-types.ts';
import { h } from './dom.ts';
import { session } from './session.ts';

export function followButton(channel: ChannelBody): HTMLElement {
  const count = h('span', { class: 'muted' });
  const button = h('button', { type: 'button', class: 'follow' });
  const status = h('span', { class: 'status', role: 'status' });
  let following = channel.following ?? false;
  const show = (followerCount: number) => {
    button.textContent = following ? 'Following' : 'Follow';
    button.setAttribute('aria-pressed', String(following));
    count.textContent = `${followerCount} ${followerCount === 1 ? 'follower' : 'followers'}`;
  };
  show(channel.followerCount ?? 0);
  const user = session.user();
  if (!user || user.username.toLowerCase() === channel.slug.toLowerCase()) button.hidden = true;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const body = await api<{ following: boolean; followerCount: number }>(`/api/v1/channels/${encodeURIComponent(channel.slug)}/follow`, { method: following ? 'DELETE' : 'PUT', auth: 'required' });
      following = body.following;
      show(body.followerCount);
      status.textContent = following ? `You follow ${channel.slug}.` : '';
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ALREADY_FOLLOWING') {
        following = true;
        button.textContent = 'Following';
      } else status.textContent = (err as Error).message;
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'row wrap follow-row' }, button, count, status);
}
