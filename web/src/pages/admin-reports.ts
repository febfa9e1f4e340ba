// The admin page's reports queue: dismiss, delete the content, or suspend its author.
import { api, ApiError } from '../api.ts';
import { fill, h, statusLine } from '../dom.ts';
import { suspendDialog } from './admin-users.ts';

interface QueuedReport {
  id: string;
  targetKind: string;
  targetId: string;
  reason: string;
  createdAt: string;
  reporter: string | null;
  targetUser: string | null;
}

export function reportsSection(): HTMLElement {
  const list = h('ul', { class: 'admin-list', 'aria-label': 'Open reports' });
  const status = statusLine();

  const load = async () => {
    try {
      const { reports } = await api<{ reports: QueuedReport[] }>('/api/v1/admin/reports', { auth: 'required' });
      fill(list, ...reports.map(row));
      if (reports.length === 0) list.append(h('li', { class: 'muted' }, 'No open reports.'));
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  };

  const resolve = async (r: QueuedReport, body: Record<string, unknown>, done: string) => {
    try {
      await api(`/api/v1/admin/reports/${r.id}/resolve`, { method: 'POST', auth: 'required', body });
      status.textContent = done;
      await load();
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
    }
  };

  const row = (r: QueuedReport): HTMLElement => {
    const what = r.targetKind === 'channel' && r.targetUser ? h('a', { href: `/c/${encodeURIComponent(r.targetUser)}` }, `channel ${r.targetUser}`) : r.targetKind === 'video' ? h('a', { href: `/v/${r.targetId}` }, 'a video') : `a ${r.targetKind.replace('-', ' ')}${r.targetUser ? ` by ${r.targetUser}` : ''}`;
    const controls = h(
      'div',
      { class: 'row wrap' },
      h('button', { type: 'button', onclick: () => void resolve(r, { action: 'dismiss' }, 'Report dismissed.') }, 'Dismiss'),
      r.targetKind === 'channel' ? null : h('button', { type: 'button', class: 'danger', onclick: () => void resolve(r, { action: 'delete-content' }, 'Content deleted.') }, 'Delete content'),
      r.targetUser
        ? h('button', {
            type: 'button',
            class: 'danger',
            onclick: async () => {
              const suspension = await suspendDialog(r.targetUser!);
              if (suspension) await resolve(r, { action: 'suspend', suspension }, `${r.targetUser} is suspended.`);
            },
          }, `Suspend ${r.targetUser}`)
        : null,
    );
    return h('li', { class: 'admin-item' }, h('div', {}, h('strong', {}, r.reporter ?? 'someone'), ' reported ', what, ': ', h('q', {}, r.reason), h('span', { class: 'muted' }, ` · ${new Date(r.createdAt).toLocaleString()}`)), controls);
  };

  void load();
  return h('section', { class: 'card', 'aria-labelledby': 'reports-h' }, h('h2', { id: 'reports-h' }, 'Reports'), status, list);
}
