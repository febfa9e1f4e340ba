// My recordings: rename, change visibility, delete (after a confirmation).
import { api } from '../api.ts';
import type { Visibility, Vod } from '../api-types.ts';
import { h, statusLine } from '../dom.ts';
import { date, duration } from '../format.ts';
import { confirmDialog } from '../ui-helpers.ts';

const VISIBILITY: Array<[Visibility, string]> = [
  ['public', 'Public'],
  ['unlisted', 'Unlisted (link only)'],
  ['private', 'Private (only you)'],
];

export async function vodsSection(slug: string): Promise<HTMLElement> {
  const list = h('ul', { class: 'vod-admin' });
  const status = statusLine();
  const section = h('section', { class: 'card', 'aria-labelledby': 'vods-h' }, h('h2', { id: 'vods-h' }, 'My videos'), h('p', {}, h('a', { href: '/upload' }, 'Upload a video')), status, list);

  const load = async () => {
    const { vods } = await api<{ vods: Vod[] }>(`/api/v1/vods?channel=${encodeURIComponent(slug)}&limit=50`, { auth: 'required' });
    list.replaceChildren(...(vods.length ? vods.map((v) => row(v)) : [h('li', { class: 'empty' }, 'No videos yet: every stream is recorded and appears here when it ends, and uploads appear as soon as they start.')]));
  };

  const row = (vod: Vod): HTMLElement => {
    const title = h('input', { maxlength: 140, required: true, 'aria-label': `Title of the recording from ${date(vod.startedAt)}` });
    title.value = vod.title;
    const visibility = h('select', { 'aria-label': `Visibility of “${vod.title}”` }, ...VISIBILITY.map(([v, label]) => h('option', { value: v }, label)));
    visibility.value = vod.visibility;
    const save = h('button', { type: 'submit' }, 'Rename');
    const del = h('button', { type: 'button', class: 'danger', disabled: vod.status === 'recording' || vod.status === 'finalizing' }, 'Delete…');
    const patch = async (body: Record<string, string>, done: string) => {
      try {
        const updated = await api<Vod>(`/api/v1/vods/${vod.id}`, { method: 'PATCH', auth: 'required', body });
        Object.assign(vod, updated);
        status.textContent = done;
      } catch (err) {
        status.textContent = (err as Error).message;
      }
    };
    const form = h('form', { class: 'row wrap' }, title, save, visibility, del);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void patch({ title: title.value }, `Renamed to “${title.value.trim()}”.`);
    });
    visibility.addEventListener('change', () => void patch({ visibility: visibility.value }, `“${vod.title}” is now ${visibility.value}.`));
    del.addEventListener('click', async () => {
      if (!(await confirmDialog('Delete this recording?', `“${vod.title}” and its files are deleted for good.`, 'Delete'))) return;
      try {
        await api(`/api/v1/vods/${vod.id}`, { method: 'DELETE', auth: 'required' });
        li.remove();
        status.textContent = `Deleted “${vod.title}”.`;
      } catch (err) {
        status.textContent = (err as Error).message;
      }
    });
    const li = h(
      'li',
      { class: 'vod-row' },
      h('a', { href: `/v/${vod.id}`, class: 'thumb small' }, vod.thumbnailUrl ? h('img', { src: vod.thumbnailUrl, alt: '', width: 160, height: 90, loading: 'lazy' }) : h('span', { class: 'muted' }, vod.status)),
      h('div', { class: 'vod-row-body' }, h('p', { class: 'muted small' }, `${date(vod.startedAt)} · ${vod.source === 'upload' ? 'upload' : 'recording'} · ${duration(vod.durationS)} · ${statusText(vod)}`), vod.failureReason ? h('p', { class: 'small', role: 'note' }, vod.failureReason) : null, form),
    );
    return li;
  };

  try {
    await load();
  } catch (err) {
    status.textContent = `Could not load your recordings: ${(err as Error).message}`;
  }
  return section;
}

function statusText(vod: Vod): string {
  if (vod.status === 'uploading' || vod.status === 'processing') return `${vod.status} ${Math.floor(vod.progress)} %`;
  return vod.status;
}
