// The OBS settings (server URL and stream key with copy buttons; the key stays hidden until
// revealed; rotation asks first) and the live status of the incoming stream.
import { api, ApiError } from '../api.ts';
import type { IngestHealth } from '../api-types.ts';
import { field, h, statusLine } from '../dom.ts';
import { duration, viewers } from '../format.ts';
import { confirmDialog, copyButton } from '../ui-helpers.ts';

const HEALTH_POLL_MS = 3000;

export async function streamSection(slug: string): Promise<HTMLElement> {
  const base = `/api/v1/channels/${encodeURIComponent(slug)}`;
  let keys = await api<{ server: string; streamKey: string }>(`${base}/stream-key`, { auth: 'required' });
  let revealed = false;

  const server = h('input', { readonly: true, class: 'mono' });
  server.value = keys.server;
  // The key is put in the page only when revealed.
  const key = h('input', { readonly: true, class: 'mono', value: '••••••••••••••••', id: 'stream-key' });
  const status = statusLine();
  const reveal = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Reveal key');
  const rotate = h('button', { type: 'button', class: 'danger' }, 'Rotate key…');

  const showKey = () => {
    key.value = revealed ? keys.streamKey : '••••••••••••••••';
    reveal.textContent = revealed ? 'Hide key' : 'Reveal key';
    reveal.setAttribute('aria-pressed', String(revealed));
  };
  reveal.addEventListener('click', () => {
    revealed = !revealed;
    showKey();
  });
  rotate.addEventListener('click', async () => {
    const ok = await confirmDialog('Rotate the stream key?', 'The current key stops working at once and a stream using it ends. You will need to paste the new key into OBS.', 'Rotate key');
    if (!ok) return;
    try {
      keys = await api(`${base}/stream-key`, { method: 'POST', auth: 'required' });
      server.value = keys.server;
      showKey();
      status.textContent = 'New key created. Paste it into OBS before you go live again.';
    } catch (err) {
      status.textContent = (err as Error).message;
    }
  });

  const obs = h(
    'section',
    { class: 'card', 'aria-labelledby': 'obs-h' },
    h('h2', { id: 'obs-h' }, 'Stream from OBS'),
    h('p', { class: 'muted' }, 'In OBS: Settings → Stream → Service “Custom”. Output: H.264 and AAC, keyframe interval 1 or 2 s.'),
    h('div', { class: 'row wrap' }, field('Server', server), copyButton('Server', () => keys.server, status)),
    h('div', { class: 'row wrap' }, h('div', { class: 'field' }, h('label', { for: 'stream-key' }, 'Stream key'), key), reveal, copyButton('Stream key', () => keys.streamKey, status), rotate),
    h('p', { class: 'hint' }, 'Keep the key secret: anyone with it can stream on your channel.'),
    status,
  );
  return h('div', {}, obs, liveStatus(base, slug));
}

function liveStatus(base: string, slug: string): HTMLElement {
  const body = h('div', { role: 'status', 'aria-live': 'polite', 'aria-atomic': 'false' });
  const section = h('section', { class: 'card', 'aria-labelledby': 'live-status-h' }, h('h2', { id: 'live-status-h' }, 'Live status'), body);
  const stat = (label: string, value: string) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value));

  const poll = async () => {
    try {
      const hl = await api<IngestHealth>(`${base}/ingest-health`, { auth: 'required' });
      section.dataset.live = 'true';
      body.replaceChildren(
        h('p', {}, h('span', { class: 'badge live' }, 'LIVE'), ' ', h('a', { href: `/c/${encodeURIComponent(slug)}` }, 'Open your watch page')),
        h(
          'dl',
          { class: 'stats' },
          stat('Uptime', duration(hl.uptimeS)),
          stat('Viewers', viewers(hl.viewers ?? 0)),
          stat('Input bitrate', `${hl.bitrateKbps} kbps`),
          stat('Frame rate', hl.fps ? `${hl.fps} fps` : '—'),
          stat('Resolution', hl.width && hl.height ? `${hl.width}×${hl.height}` : '—'),
          stat('Codecs', [hl.videoCodec, hl.audioCodec].filter(Boolean).join(' + ') || '—'),
          stat('Keyframe interval', hl.keyframeIntervalS === null ? '—' : `${hl.keyframeIntervalS} s`),
        ),
        ...hl.warnings.map((w) => h('p', { class: 'warning' }, '⚠ ', w)),
      );
    } catch (err) {
      section.dataset.live = 'false';
      if (err instanceof ApiError && err.status === 404) body.replaceChildren(h('p', {}, 'Offline. Start streaming in OBS and this updates by itself.'));
      else body.replaceChildren(h('p', { class: 'warning' }, `Could not read the live status: ${(err as Error).message}`));
    }
  };
  void poll();
  window.setInterval(() => void poll(), HEALTH_POLL_MS);
  return section;
}
