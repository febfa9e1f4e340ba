// One chat line, shared by the live chat and the VOD's chat replay. Everything a user wrote goes
// in as text.
import type { ChatMessage } from '../../chat/chat-protocol.ts';
import { h } from './dom.ts';

export type { ChatMessage };

export function messageItem(message: ChatMessage, opts: { own?: boolean; time?: string } = {}): HTMLLIElement {
  const stamp = opts.time ?? new Date(message.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return h(
    'li',
    { class: `chat-line${opts.own ? ' own' : ''}`, 'data-id': message.id, 'data-user': message.user.username },
    h('span', { class: 'chat-time' }, stamp),
    ' ',
    h('a', { class: 'chat-user', href: `/c/${encodeURIComponent(message.user.username)}` }, message.user.username),
    h('span', { class: 'sr-only' }, ' says'),
    ': ',
    h('span', { class: 'chat-text' }, message.text),
  );
}

/** Keeps a log scrolled to the newest line, unless the reader has scrolled up to read. */
export function stickToBottom(log: HTMLElement, add: () => void): void {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  add();
  if (atBottom) log.scrollTop = log.scrollHeight;
}
