// Moderators (the owner appoints them) and bans/timeouts in force, with forms to add either.
import { api } from '../api.ts';
import { field, h, statusLine } from '../dom.ts';

interface Moderator {
  id: string;
  username: string;
  addedAt: string;
}
interface Ban {
  user: { id: string; username: string };
  expiresAt: string | null;
  reason: string;
}

const TIMEOUTS: Array<[string, string]> = [
  ['', 'Ban (until lifted)'],
  ['600', 'Time out 10 minutes'],
  ['3600', 'Time out 1 hour'],
  ['86400', 'Time out 24 hours'],
];

export async function moderationSection(slug: string): Promise<HTMLElement> {
  const base = `/api/v1/channels/${encodeURIComponent(slug)}`;
  const status = statusLine();
  const mods = h('ul', { class: 'plain-list' });
  const bans = h('ul', { class: 'plain-list' });
  const run = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      status.textContent = done;
      await refresh();
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  };

  const refresh = async () => {
    const [m, b] = await Promise.all([
      api<{ moderators: Moderator[] }>(`${base}/moderators`, { auth: 'required' }),
      api<{ bans: Ban[] }>(`${base}/bans`, { auth: 'required' }),
    ]);
    mods.replaceChildren(
      ...(m.moderators.length
        ? m.moderators.map((mod) =>
            h('li', { class: 'row' }, h('span', {}, mod.username), h('button', { type: 'button', onclick: () => void run(() => api(`${base}/moderators/${encodeURIComponent(mod.username)}`, { method: 'DELETE', auth: 'required' }), `${mod.username} is no longer a moderator.`) }, `Remove ${mod.username}`)),
          )
        : [h('li', { class: 'empty' }, 'No moderators yet.')]),
    );
    bans.replaceChildren(
      ...(b.bans.length
        ? b.bans.map((ban) =>
            h(
              'li',
              { class: 'row' },
              h('span', {}, ban.user.username, h('span', { class: 'muted' }, ban.expiresAt ? ` · until ${new Date(ban.expiresAt).toLocaleString()}` : ' · banned'), ban.reason ? h('span', { class: 'muted' }, ` · ${ban.reason}`) : null),
              h('button', { type: 'button', onclick: () => void run(() => api(`${base}/bans/${encodeURIComponent(ban.user.username)}`, { method: 'DELETE', auth: 'required' }), `${ban.user.username} may chat again.`) }, `Lift for ${ban.user.username}`),
            ),
          )
        : [h('li', { class: 'empty' }, 'Nobody is banned or timed out.')]),
    );
  };

  const modName = h('input', { pattern: '[A-Za-z0-9_]{3,25}', required: true, autocomplete: 'off' });
  const modForm = h('form', { class: 'row wrap' }, field('Username', modName), h('button', { type: 'submit' }, 'Add moderator'));
  modForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = modName.value.trim();
    void run(() => api(`${base}/moderators/${encodeURIComponent(name)}`, { method: 'PUT', auth: 'required' }), `${name} is now a moderator.`).then(() => (modName.value = ''));
  });

  const banName = h('input', { pattern: '[A-Za-z0-9_]{3,25}', required: true, autocomplete: 'off' });
  const banKind = h('select', {}, ...TIMEOUTS.map(([v, label]) => h('option', { value: v }, label)));
  const banReason = h('input', { maxlength: 200 });
  const banForm = h('form', { class: 'row wrap' }, field('Username', banName), field('Action', banKind), field('Reason (optional)', banReason), h('button', { type: 'submit', class: 'danger' }, 'Apply'));
  banForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const username = banName.value.trim();
    const body = { username, ...(banKind.value ? { seconds: Number(banKind.value) } : {}), ...(banReason.value.trim() ? { reason: banReason.value.trim() } : {}) };
    void run(() => api(`${base}/bans`, { method: 'POST', auth: 'required', body }), banKind.value ? `${username} is timed out.` : `${username} is banned.`).then(() => {
      banName.value = '';
      banReason.value = '';
    });
  });

  try {
    await refresh();
  } catch (err) {
    status.textContent = `Could not load moderation: ${(err as Error).message}`;
  }
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'mod-h' },
    h('h2', { id: 'mod-h' }, 'Chat moderation'),
    status,
    h('h3', {}, 'Moderators'),
    h('p', { class: 'muted small' }, 'Moderators can delete messages, time out and ban viewers, from the chat itself or here.'),
    mods,
    modForm,
    h('h3', {}, 'Bans and timeouts'),
    bans,
    banForm,
  );
}
