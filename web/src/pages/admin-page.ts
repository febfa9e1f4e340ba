// /admin: the instance's admin page, for admins and instance moderators: users, reports, live
// streams now (with an end button), storage per channel and, for admins, the instance settings.
// Anyone else is told they may not see it (the API answers them 403 anyway).
import { api, ApiError } from '../api.ts';
import { field, fill, h, setPageTitle, statusLine } from '../dom.ts';
import { since } from '../format.ts';
import { session } from '../session.ts';
import { confirmDialog } from '../ui-helpers.ts';
import { reportsSection } from './admin-reports.ts';
import { usersSection } from './admin-users.ts';

interface Settings {
  name: string;
  description: string;
  registration: 'open' | 'approval' | 'invite' | 'closed';
  uploadLimitMb: number;
  recordingLimitMb: number;
  keepRecordings: boolean;
  maxLiveDurationS: number;
}

export async function adminPage(main: HTMLElement): Promise<void> {
  setPageTitle('Admin');
  if (!session.user()) return location.replace('/signin?next=/admin');
  let settings: Settings;
  try {
    settings = await api<Settings>('/api/v1/admin/settings', { auth: 'required' });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 401)) {
      fill(main, h('h1', {}, 'Admin'), h('p', { role: 'alert' }, 'Only the admins and moderators of this instance may see this page.'));
      return;
    }
    throw err;
  }
  const me = await api<{ role: string }>('/api/v1/auth/me', { auth: 'required' });
  const isAdmin = me.role === 'admin';
  fill(main, h('h1', {}, `Admin · ${settings.name}`), usersSection(isAdmin), reportsSection(), liveSection(), storageSection(), isAdmin ? settingsSection(settings) : null);
}

function liveSection(): HTMLElement {
  const list = h('ul', { class: 'admin-list', 'aria-label': 'Live now' });
  const status = statusLine();
  const load = async () => {
    const { live } = await api<{ live: Array<{ channelId: string; slug: string; startedAt: string; viewers: number }> }>('/api/v1/admin/live', { auth: 'required' });
    fill(list, ...live.map((l) =>
      h('li', { class: 'admin-item' }, h('div', {}, h('a', { href: `/c/${encodeURIComponent(l.slug)}` }, l.slug), h('span', { class: 'muted' }, ` · live ${since(l.startedAt)} · ${l.viewers} watching`)),
        h('button', {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            if (!(await confirmDialog(`End ${l.slug}'s stream?`, 'The stream stops now for everyone watching; its recording is kept.', 'End stream'))) return;
            try {
              await api(`/api/v1/admin/live/${l.channelId}/end`, { method: 'POST', auth: 'required' });
              status.textContent = `${l.slug}'s stream ended.`;
            } catch (err) {
              status.textContent = (err as Error).message;
            }
            await load();
          },
        }, `End ${l.slug}'s stream`)),
    ));
    if (live.length === 0) list.append(h('li', { class: 'muted' }, 'Nobody is live.'));
  };
  void load().catch((err: Error) => (status.textContent = err.message));
  return h('section', { class: 'card', 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Live now'), status, list, h('button', { type: 'button', onclick: () => void load() }, 'Refresh'));
}

function storageSection(): HTMLElement {
  const list = h('ul', { class: 'admin-list', 'aria-label': 'Storage per channel' });
  void api<{ channels: Array<{ slug: string; bytes: number }> }>('/api/v1/admin/storage', { auth: 'required' }).then(({ channels }) => {
    fill(list, ...channels.map((c) => h('li', { class: 'admin-item' }, h('span', {}, c.slug), h('span', {}, `${(c.bytes / (1024 * 1024)).toFixed(1)} MiB`))));
    if (channels.length === 0) list.append(h('li', { class: 'muted' }, 'No recordings yet.'));
  });
  return h('section', { class: 'card', 'aria-labelledby': 'storage-h' }, h('h2', { id: 'storage-h' }, 'Storage used by recordings'), list);
}

function settingsSection(current: Settings): HTMLElement {
  const name = h('input', { name: 'name', required: true, maxlength: 100, value: current.name });
  const description = h('textarea', { name: 'description', maxlength: 2000, rows: 3 });
  description.value = current.description;
  const registration = h('select', { name: 'registration' }, ...(['open', 'approval', 'invite', 'closed'] as const).map((r) => h('option', { value: r, selected: r === current.registration }, r)));
  const number = (value: number, max: number) => h('input', { type: 'number', min: 0, max, step: 1, required: true, value });
  const upload = number(current.uploadLimitMb, 1024 * 1024);
  const recording = number(current.recordingLimitMb, 1024 * 1024 * 1024);
  const maxLive = number(Math.round(current.maxLiveDurationS / 3600), 168);
  const keep = h('input', { type: 'checkbox', checked: current.keepRecordings });
  const status = statusLine();
  const inviteOut = h('p', { class: 'muted' });
  const form = h(
    'form',
    {},
    field('Instance name', name),
    field('Description', description),
    field('Registration', registration, 'open: anyone; approval: an admin approves each account; invite: invite links only; closed: nobody.'),
    field('Upload limit (MiB, 0: none)', upload),
    field('Recording storage per channel (MiB, 0: none)', recording),
    field('Longest live stream (hours, 0: no limit)', maxLive),
    h('label', { class: 'row' }, keep, 'Keep recordings of live streams'),
    h('button', { type: 'submit', class: 'primary' }, 'Save settings'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/v1/admin/settings', {
        method: 'PATCH',
        auth: 'required',
        body: { name: name.value.trim(), description: description.value, registration: registration.value, uploadLimitMb: Number(upload.value), recordingLimitMb: Number(recording.value), maxLiveDurationS: Number(maxLive.value) * 3600, keepRecordings: keep.checked },
      });
      status.textContent = 'Settings saved: every server uses them now.';
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });
  const invite = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        const res = await api<{ url: string; expiresAt: string }>('/api/v1/admin/invites', { method: 'POST', auth: 'required', body: {} });
        inviteOut.textContent = `Invite link (one use, until ${new Date(res.expiresAt).toLocaleString()}): ${res.url}`;
      } catch (err) {
        inviteOut.textContent = (err as Error).message;
      }
    },
  }, 'Make an invite link');
  return h('section', { class: 'card', 'aria-labelledby': 'settings-h' }, h('h2', { id: 'settings-h' }, 'Instance settings'), form, status, invite, inviteOut);
}
