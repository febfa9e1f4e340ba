// The notification bell in the header: the unread count, a list that opens from it, and a
// WebSocket that pushes new notifications as they are stored, so the count changes without a
// reload. The socket signs in with an auth frame (never a token in the URL) and reconnects with
// backoff when it drops.
import { api } from './api.ts';
import type { NotificationBody } from './api-types.ts';
import { fill, h } from './dom.ts';
import { ago } from './format.ts';
import { notificationText } from './notification-text.ts';
import { session } from './session.ts';

type Frame = { type: 'authed'; unread: number } | { type: 'notification'; notification: NotificationBody; unread: number } | { type: 'error'; code: string; message: string };

export function notificationBell(): HTMLElement {
  const count = h('span', { class: 'bell-count', 'data-testid': 'bell-count' }, '0');
  const button = h('button', { type: 'button', class: 'bell', 'aria-expanded': 'false', 'aria-controls': 'bell-panel' }, 'Notifications ', count);
  const list = h('ul', { class: 'plain-list bell-list' });
  const markAll = h('button', { type: 'button' }, 'Mark all read');
  const panel = h('div', { class: 'bell-panel card', id: 'bell-panel', hidden: true, role: 'region', 'aria-label': 'Notifications' }, h('div', { class: 'row spread' }, h('strong', {}, 'Notifications'), markAll), list);
  const root = h('div', { class: 'bell-wrap' }, button, panel);
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  root.append(live);
  let items: NotificationBody[] = [];

  const setUnread = (n: number) => {
    count.textContent = String(n);
    button.setAttribute('aria-label', `Notifications, ${n} unread`);
    button.classList.toggle('attention', n > 0);
  };
  const render = () => {
    if (items.length === 0) return fill(list, h('li', { class: 'empty' }, 'No notifications yet. Follow channels to hear when they go live.'));
    fill(
      list,
      ...items.map((n) => {
        const { text, href } = notificationText(n);
        const open = href === null ? h('button', { type: 'button', class: 'link', onclick: () => void markRead([n.id]) }, text) : h('a', { href, onclick: () => void markRead([n.id]) }, text);
        return h('li', { class: n.read ? 'read' : 'unread' }, open, h('span', { class: 'muted small' }, ` · ${ago(n.createdAt)}`));
      }),
    );
  };
  const load = async () => {
    const body = await api<{ notifications: NotificationBody[]; unread: number }>('/api/v1/notifications?limit=20', { auth: 'required' });
    items = body.notifications;
    setUnread(body.unread);
    render();
  };
  const markRead = async (ids: string[] | 'all') => {
    const body = await api<{ unread: number }>('/api/v1/notifications/read', { method: 'POST', auth: 'required', body: ids === 'all' ? { all: true } : { ids } }).catch(() => null);
    if (!body) return;
    items = items.map((n) => (ids === 'all' || ids.includes(n.id) ? { ...n, read: true } : n));
    setUnread(body.unread);
    render();
  };
  button.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) void load().catch(() => {});
  });
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      panel.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      button.focus();
    }
  });
  markAll.addEventListener('click', () => void markRead('all'));

  let retry = 1000;
  let current: WebSocket | null = null;
  const connect = () => {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/notifications/socket`);
    current = socket;
    socket.addEventListener('open', async () => {
      const token = await session.accessToken();
      if (token) socket.send(JSON.stringify({ type: 'auth', token }));
    });
    socket.addEventListener('message', async (event) => {
      const frame = JSON.parse(String(event.data)) as Frame;
      if (frame.type === 'authed') {
        retry = 1000;
        setUnread(frame.unread);
      } else if (frame.type === 'notification') {
        items = [frame.notification, ...items.filter((n) => n.id !== frame.notification.id)];
        setUnread(frame.unread);
        live.textContent = notificationText(frame.notification).text;
        render();
      } else if (frame.code === 'TOKEN_EXPIRED') {
        const token = await session.accessToken(true);
        if (token) socket.send(JSON.stringify({ type: 'auth', token }));
      }
    });
    socket.addEventListener('close', () => {
      if (!session.user()) return;
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30_000);
    });
  };
  connect();
  // An access token lasts 15 minutes: send a fresh one before the server stops pushing.
  window.setInterval(async () => {
    const token = await session.accessToken().catch(() => null);
    if (token && current?.readyState === WebSocket.OPEN) current.send(JSON.stringify({ type: 'auth', token }));
  }, 10 * 60_000);
  render();
  return root;
}
