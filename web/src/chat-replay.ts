// A VOD's chat, replayed in step with the video: messages are fetched a minute at a time by their
// offset into the recording and shown once playback reaches them. Seeking back redraws.
import { api } from './api.ts';
import { messageItem, stickToBottom, type ChatMessage } from './chat-message.ts';
import { h } from './dom.ts';
import { duration } from './format.ts';

const WINDOW_MS = 60_000;
// How far back the panel shows, so a seek lands in context rather than in an empty list.
const SHOWN_WINDOWS = 3;
const MAX_SHOWN = 150;

export interface ChatReplay {
  root: HTMLElement;
  destroy(): void;
}

export function chatReplay(vodId: string, video: HTMLVideoElement): ChatReplay {
  const log = h('ul', { class: 'chat-log', role: 'log', 'aria-label': 'Chat replay', tabindex: 0 });
  const empty = h('p', { class: 'muted small' }, 'Chat messages appear here as the video reaches them.');
  const root = h('section', { class: 'chat replay', 'aria-label': 'Chat replay' }, h('div', { class: 'chat-head' }, h('h2', {}, 'Chat replay')), empty, log);

  const windows = new Map<number, Promise<ChatMessage[]>>();
  const loaded = new Map<number, ChatMessage[]>();
  let shownIds: string[] = [];
  let destroyed = false;

  const load = (index: number) => {
    if (index < 0 || windows.has(index)) return;
    const fetchAll = async () => {
      const messages: ChatMessage[] = [];
      let from: number | null = index * WINDOW_MS;
      const to = (index + 1) * WINDOW_MS;
      for (let page = 0; from !== null && page < 10; page++) {
        const body: { messages: ChatMessage[]; nextFrom: number | null } = await api(`/api/v1/vods/${encodeURIComponent(vodId)}/chat?from=${from}&to=${to}`, { auth: 'optional' });
        messages.push(...body.messages);
        from = body.nextFrom;
      }
      return messages;
    };
    const promise = fetchAll().then(
      (messages) => {
        loaded.set(index, messages);
        render();
        return messages;
      },
      () => {
        windows.delete(index); // try again on the next tick
        return [];
      },
    );
    windows.set(index, promise);
  };

  const render = () => {
    if (destroyed) return;
    const nowMs = video.currentTime * 1000;
    const current = Math.floor(nowMs / WINDOW_MS);
    const visible: ChatMessage[] = [];
    for (let i = current - SHOWN_WINDOWS + 1; i <= current; i++) {
      for (const m of loaded.get(i) ?? []) if ((m.offsetMs ?? 0) <= nowMs) visible.push(m);
    }
    const slice = visible.slice(-MAX_SHOWN);
    const ids = slice.map((m) => m.id);
    if (ids.length === shownIds.length && ids.every((id, i) => id === shownIds[i])) return;
    const appendOnly = shownIds.length > 0 && ids.length > shownIds.length && shownIds.every((id, i) => ids[i] === id);
    stickToBottom(log, () => {
      const item = (m: ChatMessage) => messageItem(m, { time: duration((m.offsetMs ?? 0) / 1000) });
      if (appendOnly) log.append(...slice.slice(shownIds.length).map(item));
      else log.replaceChildren(...slice.map(item));
    });
    shownIds = ids;
    empty.hidden = ids.length > 0;
  };

  const tick = () => {
    const current = Math.floor((video.currentTime * 1000) / WINDOW_MS);
    for (let i = current - SHOWN_WINDOWS + 1; i <= current + 1; i++) load(i);
    render();
  };
  video.addEventListener('timeupdate', tick);
  video.addEventListener('seeked', tick);
  tick();

  return {
    root,
    destroy() {
      destroyed = true;
      video.removeEventListener('timeupdate', tick);
      video.removeEventListener('seeked', tick);
    },
  };
}
