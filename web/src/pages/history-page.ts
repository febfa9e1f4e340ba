// /history: what the signed-in user watched, where they stopped, and the controls to clear or
// pause the history.
import { api } from '../api.ts';
import { fill, h, setPageTitle, statusLine } from '../dom.ts';
import { ago, duration } from '../format.ts';
import { session } from '../session.ts';

interface HistoryBody {
  paused: boolean;
  items: Array<{ vod: { id: string; title: string; channel: { slug: string }; durationS: number }; positionS: number; watchedAt: string }>;
}

export async function historyPage(main: HTMLElement): Promise<void> {
  if (!session.user()) return location.replace('/signin?next=/history');
  setPageTitle('History');
  const list = h('ul', { class: 'plain-list', 'aria-label': 'Watched videos' });
  const status = statusLine();
  const pause = h('button', { type: 'button' });
  const clear = h('button', { type: 'button', class: 'danger' }, 'Clear history');
  let paused = false;

  const load = async () => {
    const body = await api<HistoryBody>('/api/v1/me/history', { auth: 'required' });
    paused = body.paused;
    pause.textContent = paused ? 'Resume recording history' : 'Pause history';
    pause.setAttribute('aria-pressed', String(paused));
    if (body.items.length === 0) return fill(list, h('li', { class: 'empty' }, paused ? 'History is paused.' : 'Nothing watched yet.'));
    fill(
      list,
      ...body.items.map((i) =>
        h(
          'li',
          { class: 'hit' },
          h('a', { href: `/v/${i.vod.id}`, dir: 'auto' }, i.vod.title || 'Untitled stream'),
          h('span', { class: 'muted small' }, ` · ${i.vod.channel.slug} · stopped at ${duration(i.positionS)} of ${duration(i.vod.durationS)} · ${ago(i.watchedAt)}`),
        ),
      ),
    );
  };
  pause.addEventListener('click', async () => {
    await api('/api/v1/me/history-paused', { method: 'PUT', auth: 'required', body: { paused: !paused } });
    status.textContent = paused ? 'History is recorded again.' : 'History paused: nothing you watch is recorded.';
    await load();
  });
  clear.addEventListener('click', async () => {
    await api('/api/v1/me/history', { method: 'DELETE', auth: 'required' });
    status.textContent = 'History cleared.';
    await load();
  });
  fill(main, h('h1', {}, 'Watch history'), h('div', { class: 'row wrap' }, pause, clear), status, list);
  await load();
}
