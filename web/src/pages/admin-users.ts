// The admin page's users section: search, roles (admins), approval, suspension and its lifting.
import { api, ApiError } from '../api.ts';
import { field, fill, h, statusLine } from '../dom.ts';

export interface AdminUser {
  id: string;
  username: string;
  email: string;
  role: 'user' | 'moderator' | 'admin';
  createdAt: string;
  emailVerified: boolean;
  pendingApproval: boolean;
  suspension: { at: string; until: string | null; reason: string } | null;
}

export interface SuspensionInput {
  reason: string;
  until: string | null;
  hideContent: boolean;
}

/** Asks why and for how long; null when cancelled. */
export function suspendDialog(username: string): Promise<SuspensionInput | null> {
  return new Promise((resolve) => {
    const reason = h('input', { name: 'reason', required: true, maxlength: 500 });
    const until = h('input', { name: 'until', type: 'datetime-local' });
    const hide = h('input', { name: 'hide', type: 'checkbox' });
    const ok = h('button', { type: 'submit', value: 'ok', class: 'danger' }, 'Suspend');
    const cancel = h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel');
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'suspend-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'suspend-title' }, `Suspend ${username}`),
        field('Reason', reason, 'Shown to them when they try to sign in.'),
        field('Until (optional)', until, 'Empty: until you lift it.'),
        h('label', { class: 'row' }, hide, 'Hide their chat messages and comments'),
        h('div', { class: 'row end' }, cancel, ok),
      ),
    );
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue === 'ok' && reason.value.trim() ? { reason: reason.value.trim(), until: until.value ? new Date(until.value).toISOString() : null, hideContent: hide.checked } : null;
      dialog.remove();
      resolve(value);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

export function usersSection(isAdmin: boolean): HTMLElement {
  const query = h('input', { type: 'search', name: 'q', maxlength: 254 });
  const list = h('ul', { class: 'admin-list', 'aria-label': 'Users' });
  const status = statusLine();
  const form = h('form', { class: 'row wrap', role: 'search' }, field('Find users', query, 'Part of a username or email.'), h('button', { type: 'submit' }, 'Search'));

  const load = async () => {
    try {
      const { users } = await api<{ users: AdminUser[] }>(`/api/v1/admin/users?q=${encodeURIComponent(query.value.trim())}`, { auth: 'required' });
      fill(list, ...users.map(row));
      if (users.length === 0) list.append(h('li', { class: 'muted' }, 'No users match.'));
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  };

  const act = async (what: string, call: () => Promise<unknown>) => {
    try {
      await call();
      status.textContent = what;
      await load();
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
    }
  };

  const row = (u: AdminUser): HTMLElement => {
    const state = u.suspension ? `suspended${u.suspension.until ? ` until ${new Date(u.suspension.until).toLocaleString()}` : ''}: ${u.suspension.reason}` : u.pendingApproval ? 'waiting for approval' : u.emailVerified ? 'active' : 'email not verified';
    const controls = h('div', { class: 'row wrap' });
    if (isAdmin) {
      const role = h('select', { 'aria-label': `Role of ${u.username}` }, ...(['user', 'moderator', 'admin'] as const).map((r) => h('option', { value: r, selected: r === u.role }, r)));
      role.addEventListener('change', () => void act(`${u.username} is now ${role.value}.`, () => api(`/api/v1/admin/users/${u.id}`, { method: 'PATCH', auth: 'required', body: { role: role.value } })));
      controls.append(role);
    }
    if (u.pendingApproval) controls.append(h('button', { type: 'button', onclick: () => void act(`${u.username} approved.`, () => api(`/api/v1/admin/users/${u.id}`, { method: 'PATCH', auth: 'required', body: { approved: true } })) }, 'Approve'));
    if (u.suspension) {
      controls.append(h('button', { type: 'button', onclick: () => void act(`${u.username}'s suspension is lifted.`, () => api(`/api/v1/admin/users/${u.id}/suspension`, { method: 'DELETE', auth: 'required' })) }, `Lift suspension of ${u.username}`));
    } else {
      controls.append(
        h('button', {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            const input = await suspendDialog(u.username);
            if (input) await act(`${u.username} is suspended.`, () => api(`/api/v1/admin/users/${u.id}/suspension`, { method: 'PUT', auth: 'required', body: input }));
          },
        }, `Suspend ${u.username}`),
      );
    }
    return h('li', { class: 'admin-item', 'data-user': u.username }, h('div', {}, h('strong', {}, u.username), ' ', h('span', { class: 'muted' }, `${u.email} · ${u.role} · `), h('span', { class: 'user-state' }, state)), controls);
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load();
  });
  void load();
  return h('section', { class: 'card', 'aria-labelledby': 'users-h' }, h('h2', { id: 'users-h' }, 'Users'), form, status, list);
}
