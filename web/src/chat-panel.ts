// The live chat: history on join, new messages as they come, posting with rate-limit feedback
// (the server's retryAfterMs becomes a countdown), and inline moderation for the owner and
// moderators. Reconnects by itself; re-signs the socket in before the access token expires.
import type { Role, ServerFrame } from '../../chat/chat-protocol.ts';
import { messageItem, stickToBottom, type ChatMessage } from './chat-message.ts';
import { h, statusLine } from './dom.ts';
import { session } from './session.ts';

const MAX_LINES = 200;
const REAUTH_MS = 10 * 60_000;
const RETRYABLE = new Set(['RATE_LIMITED', 'SLOW_MODE', 'TIMED_OUT']);

export interface ChatPanel {
  root: HTMLElement;
  destroy(): void;
}

export function chatPanel(slug: string): ChatPanel {
  const inChat = h('span', { class: 'muted' });
  const log = h('ul', { class: 'chat-log', role: 'log', 'aria-label': 'Chat messages', tabindex: 0 });
  const notice = statusLine('chat-notice');
  const input = h('input', { type: 'text', id: 'chat-input', maxlength: 500, autocomplete: 'off', placeholder: 'Say something nice' });
  const send = h('button', { type: 'submit' }, 'Send');
  const form = h('form', { class: 'chat-form' }, h('label', { for: 'chat-input', class: 'sr-only' }, 'Chat message'), input, send);
  const signIn = h('p', { class: 'chat-signin' }, h('a', { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, 'Sign in'), ' or ', h('a', { href: `/signup?next=${encodeURIComponent(location.pathname)}` }, 'sign up'), ' to chat.');
  const slowInfo = h('p', { class: 'muted small', hidden: true });
  // Owner and moderators: slow mode for everyone else (they are exempt themselves).
  const slowSelect = h(
    'select',
    { id: 'chat-slow-mode' },
    ...[0, 5, 10, 30, 60, 120].map((s) => h('option', { value: String(s) }, s === 0 ? 'Off' : `${s} s`)),
  ) as HTMLSelectElement;
  const slowControl = h('div', { class: 'chat-slow-control small', hidden: true }, h('label', { for: 'chat-slow-mode' }, 'Slow mode '), slowSelect);
  const root = h('section', { class: 'chat', 'aria-label': 'Chat' }, h('div', { class: 'chat-head' }, h('h2', {}, 'Chat'), inChat), slowControl, log, slowInfo, notice, form, signIn);
  const showSlowMode = (seconds: number) => {
    if (![...slowSelect.options].some((o) => o.value === String(seconds))) slowSelect.append(h('option', { value: String(seconds) }, `${seconds} s`));
    slowSelect.value = String(seconds);
  };

  let ws: WebSocket | null = null;
  let closed = false;
  let retryDelay = 1000;
  let role: Role = 'viewer';
  let me: string | null = null;
  let cooldownUntil = 0;
  let cooldownTimer = 0;
  let reauthTimer = 0;
  let nonceSeq = 0;
  const pending = new Map<string, string>();
  const shown = new Map<string, ChatMessage>();

  const signedIn = () => session.user() !== null;
  const syncForm = () => {
    form.hidden = !signedIn();
    signIn.hidden = signedIn();
  };
  syncForm();

  const frame = (data: object) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify(data));
  const authenticate = async () => {
    const token = await session.accessToken();
    if (token) frame({ type: 'auth', token });
  };

  slowSelect.addEventListener('change', () => frame({ type: 'slow-mode', seconds: Number(slowSelect.value) }));

  const setNotice = (text: string, kind: 'info' | 'error' = 'info') => {
    notice.textContent = text;
    notice.dataset.kind = kind;
  };

  const startCooldown = (ms: number, why: string) => {
    cooldownUntil = Date.now() + ms;
    window.clearInterval(cooldownTimer);
    const tick = () => {
      const left = Math.ceil((cooldownUntil - Date.now()) / 1000);
      if (left <= 0) {
        window.clearInterval(cooldownTimer);
        send.disabled = false;
        send.textContent = 'Send';
        setNotice('');
        return;
      }
      send.disabled = true;
      send.textContent = `Wait ${left} s`;
      setNotice(`${why} You can send again in ${left} s.`, 'error');
    };
    tick();
    cooldownTimer = window.setInterval(tick, 250);
  };

  const moderationMenu = (message: ChatMessage): HTMLElement | null => {
    if (role === 'viewer' || message.user.username === me) return null;
    const act = (data: object) => () => frame(data);
    return h(
      'details',
      { class: 'mod-menu' },
      h('summary', { 'aria-label': `Moderate ${message.user.username}` }, '⋯'),
      h('button', { type: 'button', onclick: act({ type: 'delete', messageId: message.id }) }, 'Delete message'),
      h('button', { type: 'button', onclick: act({ type: 'timeout', username: message.user.username, seconds: 600 }) }, 'Time out 10 min'),
      h('button', { type: 'button', onclick: act({ type: 'ban', username: message.user.username }) }, 'Ban'),
    );
  };

  const addMessage = (message: ChatMessage) => {
    if (log.querySelector(`[data-id="${CSS.escape(message.id)}"]`)) return;
    stickToBottom(log, () => {
      const li = messageItem(message, { own: message.user.username === me });
      const menu = moderationMenu(message);
      if (menu) li.append(menu);
      log.append(li);
      shown.set(message.id, message);
      while (log.children.length > MAX_LINES) {
        const first = log.firstElementChild as HTMLElement;
        if (first.dataset.id) shown.delete(first.dataset.id);
        first.remove();
      }
    });
  };
  const systemLine = (text: string) => stickToBottom(log, () => log.append(h('li', { class: 'chat-line system' }, text)));

  const onFrame = (msg: ServerFrame) => {
    switch (msg.type) {
      case 'welcome':
        log.replaceChildren();
        shown.clear();
        msg.history.forEach(addMessage);
        if (msg.history.length === 0) systemLine('Welcome to the chat.');
        inChat.textContent = `${msg.viewers} in chat`;
        slowInfo.hidden = msg.slowModeS === 0;
        slowInfo.textContent = `Slow mode: one message every ${msg.slowModeS} s.`;
        showSlowMode(msg.slowModeS);
        retryDelay = 1000;
        return;
      case 'authed': {
        const changed = role !== msg.role || me !== msg.user.username;
        role = msg.role;
        me = msg.user.username;
        slowControl.hidden = role === 'viewer';
        // History arrived before the role was known: give its lines the menus the role allows.
        if (changed) {
          for (const li of log.querySelectorAll<HTMLElement>('.chat-line[data-id]')) {
            li.classList.toggle('own', li.dataset.user === me);
            li.querySelector('.mod-menu')?.remove();
            const message = shown.get(li.dataset.id!);
            const menu = message && !li.classList.contains('deleted') ? moderationMenu(message) : null;
            if (menu) li.append(menu);
          }
        }
        return;
      }
      case 'message':
        return addMessage(msg.message);
      case 'ack':
        if (msg.nonce) pending.delete(msg.nonce);
        return;
      case 'deleted': {
        const li = log.querySelector(`[data-id="${CSS.escape(msg.messageId)}"]`);
        const text = li?.querySelector('.chat-text');
        if (li && text) {
          li.classList.add('deleted');
          text.textContent = '(message deleted by a moderator)';
          li.querySelector('.mod-menu')?.remove();
        }
        return;
      }
      case 'slow-mode':
        showSlowMode(msg.seconds);
        slowInfo.hidden = msg.seconds === 0;
        slowInfo.textContent = `Slow mode: one message every ${msg.seconds} s.`;
        return systemLine(msg.seconds === 0 ? 'Slow mode is off.' : `Slow mode is on: one message every ${msg.seconds} s.`);
      case 'moderation': {
        const who = msg.user.username;
        if (msg.action === 'unban') return systemLine(`${who} may chat again.`);
        for (const li of log.querySelectorAll(`[data-user="${CSS.escape(who)}"]`)) li.classList.add('restricted');
        return systemLine(msg.action === 'ban' ? `${who} was banned.` : `${who} was timed out${msg.until ? ` until ${new Date(msg.until).toLocaleTimeString()}` : ''}.`);
      }
      case 'viewers':
        inChat.textContent = `${msg.count} in chat`;
        return;
      case 'error':
        return void onError(msg);
    }
  };

  const onError = async (msg: Extract<ServerFrame, { type: 'error' }>) => {
    const text = msg.nonce ? pending.get(msg.nonce) : undefined;
    if (msg.nonce) pending.delete(msg.nonce);
    if (text !== undefined && input.value === '') input.value = text;
    if (msg.code === 'TOKEN_EXPIRED' || msg.code === 'UNAUTHENTICATED') {
      if (!(await session.accessToken(true))) return setNotice('Your session ended. Sign in again to chat.', 'error');
      await authenticate();
      return setNotice('Signed in again; press Send once more.');
    }
    if (RETRYABLE.has(msg.code) && msg.retryAfterMs) return startCooldown(msg.retryAfterMs, msg.message.replace(/\s*wait \d+ s\.?$/i, ''));
    setNotice(msg.message, 'error');
  };

  const connect = () => {
    if (closed) return;
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat/${encodeURIComponent(slug)}`);
    ws = socket;
    socket.addEventListener('open', () => {
      setNotice('');
      void authenticate();
    });
    socket.addEventListener('message', (e) => {
      try {
        const frame = JSON.parse(String(e.data)) as ServerFrame | { type: 'batch'; frames: ServerFrame[] };
        // A busy room sends several frames as one batch: take them one by one, in order.
        if (frame.type === 'batch') frame.frames.forEach(onFrame);
        else onFrame(frame);
      } catch {
        // a frame this page does not understand: ignore it
      }
    });
    socket.addEventListener('close', (e) => {
      if (ws !== socket || closed) return;
      ws = null;
      setNotice(e.code === 1008 ? 'Disconnected for sending too fast; reconnecting…' : 'Chat disconnected; reconnecting…', 'error');
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15_000);
    });
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || Date.now() < cooldownUntil) return;
    if (ws?.readyState !== WebSocket.OPEN) return setNotice('Not connected yet; try again in a moment.', 'error');
    const nonce = `n${++nonceSeq}`;
    pending.set(nonce, text);
    frame({ type: 'post', text, nonce });
    input.value = '';
    input.focus();
  });

  const offSession = session.onChange(() => {
    syncForm();
    if (signedIn()) void authenticate();
    else ws?.close(); // reconnects as a reader
  });
  reauthTimer = window.setInterval(() => void authenticate(), REAUTH_MS);
  connect();

  return {
    root,
    destroy() {
      closed = true;
      offSession();
      window.clearInterval(reauthTimer);
      window.clearInterval(cooldownTimer);
      ws?.close();
    },
  };
}
