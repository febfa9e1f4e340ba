// Dashboard: what makes the channel findable (tags, the live stream's category) and its webhooks
// (add, see each one's last delivery status, delete). A new hook's signing secret is shown once.
import { api } from '../api.ts';
import type { ChannelBody } from '../api-types.ts';
import { field, fill, h, statusLine } from '../dom.ts';
import { ago } from '../format.ts';
import { copyButton } from '../ui-helpers.ts';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  lastStatus: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
}

const EVENTS = ['stream.started', 'stream.ended', 'vod.ready'];
const CATEGORIES = ['', 'just-chatting', 'gaming', 'music', 'art', 'science-and-tech', 'sports', 'education', 'irl', 'other'];

export function discoverySection(channel: ChannelBody): HTMLElement {
  const tags = h('input', { maxlength: 330, value: (channel.tags ?? []).join(', ') });
  const category = h('select', {}, ...CATEGORIES.map((c) => h('option', { value: c }, c ? c.replace(/-/g, ' ') : 'none')));
  category.value = channel.category ?? '';
  const status = statusLine();
  const form = h('form', { class: 'row wrap' }, field('Tags', tags, 'Up to 10, separated by commas.'), field('Category of your stream', category), h('button', { type: 'submit' }, 'Save'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const list = tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      const body = await api<{ tags: string[] }>(`/api/v1/channels/${encodeURIComponent(channel.slug)}/discovery`, { method: 'PUT', auth: 'required', body: { tags: list, category: category.value } });
      tags.value = body.tags.join(', ');
      status.textContent = 'Saved: viewers can find your channel by these.';
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'disc-h' }, h('h2', { id: 'disc-h' }, 'Discovery'), form, status);
}

export async function webhooksSection(slug: string): Promise<HTMLElement> {
  const base = `/api/v1/channels/${encodeURIComponent(slug)}/webhooks`;
  const list = h('ul', { class: 'plain-list webhooks' });
  const status = statusLine();
  const secretBox = h('div', { class: 'secret-once', hidden: true });
  const url = h('input', { type: 'url', required: true, maxlength: 2000, placeholder: 'https://example.com/spillway-hook' });
  const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', value: e, checked: true, id: `wh-${e}` }));
  const form = h(
    'form',
    { class: 'webhook-form' },
    field('Webhook URL', url, 'HTTPS only; private and internal addresses are refused.'),
    h('fieldset', {}, h('legend', {}, 'Events'), ...boxes.map((b) => h('label', { for: b.id, class: 'check' }, b, ` ${b.value}`))),
    h('button', { type: 'submit', class: 'primary' }, 'Add webhook'),
  );

  const refresh = async () => {
    const { webhooks } = await api<{ webhooks: Webhook[] }>(base, { auth: 'required' });
    if (webhooks.length === 0) return fill(list, h('li', { class: 'empty' }, 'No webhooks.'));
    fill(
      list,
      ...webhooks.map((w) => {
        const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
        del.addEventListener('click', async () => {
          await api(`${base}/${w.id}`, { method: 'DELETE', auth: 'required' });
          status.textContent = 'Webhook deleted.';
          await refresh();
        });
        const last = w.lastStatus
          ? `last delivery ${w.lastStatus}${w.lastStatusCode ? ` (HTTP ${w.lastStatusCode})` : ''}${w.lastError && !w.lastStatusCode ? ` (${w.lastError})` : ''}, ${ago(w.lastAttemptAt!)}`
          : 'no delivery yet';
        return h('li', { class: 'row spread' }, h('span', {}, h('span', { class: 'mono' }, w.url), h('span', { class: 'muted small' }, ` · ${w.events.join(', ')} · ${last}`)), del);
      }),
    );
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const hook = await api<Webhook & { secret: string }>(base, { method: 'POST', auth: 'required', body: { url: url.value, events } });
      url.value = '';
      const secretStatus = statusLine();
      fill(secretBox, h('p', {}, 'Signing secret (shown only now; verify the Spillway-Signature header with it):'), h('p', { class: 'mono' }, hook.secret), copyButton('Secret', () => hook.secret, secretStatus), secretStatus);
      secretBox.hidden = false;
      status.textContent = 'Webhook added.';
      await refresh();
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });
  await refresh().catch((err) => (status.textContent = (err as Error).message));
  return h('section', { class: 'card', 'aria-labelledby': 'wh-h' }, h('h2', { id: 'wh-h' }, 'Webhooks'), list, form, secretBox, status);
}
