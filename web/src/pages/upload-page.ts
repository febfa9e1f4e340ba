// /upload: send a video with tus (tus-js-client): drag and drop or choose a file, see bytes, speed
// and time left, pause and resume. tus-js-client remembers each upload's URL by the file's
// fingerprint in localStorage, so after a reload (or a dropped connection) choosing the same file
// continues from the offset the server reports. Then the page follows the VOD's processing until
// it is ready to watch.
import * as tus from 'tus-js-client';
import { api } from '../api.ts';
import type { Vod } from '../api-types.ts';
import { field, fill, h, setPageTitle, statusLine } from '../dom.ts';
import { duration } from '../format.ts';
import { session } from '../session.ts';

const ENDPOINT = '/api/v1/uploads';
const VOD_ID_HEADER = 'Spillway-Vod-Id';
// Parts of S3 multipart uploads are 8 MiB: chunks of that size go straight into a part.
const CHUNK = 8 * 1024 * 1024;

export async function uploadPage(main: HTMLElement): Promise<void> {
  if (!session.user()) return location.replace('/signin?next=/upload');
  setPageTitle('Upload a video');

  const input = h('input', { type: 'file', accept: 'video/*', class: 'sr-only', id: 'upload-file' });
  const drop = h('label', { for: 'upload-file', class: 'drop-zone', tabindex: 0 }, h('strong', {}, 'Drop a video here'), h('span', {}, ' or click to choose one'));
  const title = h('input', { maxlength: 140, placeholder: 'From the file name if empty' });
  const description = h('textarea', { maxlength: 5000, rows: 3 });
  const visibility = h('select', {}, h('option', { value: 'public' }, 'Public'), h('option', { value: 'unlisted' }, 'Unlisted (link only)'), h('option', { value: 'private' }, 'Private (only you)'));
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
  const figures = h('p', { class: 'upload-figures', 'aria-live': 'off' });
  const pause = h('button', { type: 'button', disabled: true }, 'Pause');
  const status = statusLine();
  const previous = h('ul', { class: 'previous-uploads' });
  const processing = h('div', { class: 'processing' });

  fill(
    main,
    h('h1', {}, 'Upload a video'),
    previous,
    h('section', { class: 'card' }, field('Title', title), field('Description', description), field('Visibility', visibility), drop, input),
    h('section', { class: 'card', 'aria-labelledby': 'up-h' }, h('h2', { id: 'up-h' }, 'Progress'), bar, figures, h('p', { class: 'row' }, pause), status, processing),
  );

  // Unfinished uploads this browser remembers: the same file picked again continues them.
  const remembered = (await tus.defaultOptions.urlStorage.findAllUploads().catch(() => [])).filter((u) => u.uploadUrl?.includes(ENDPOINT));
  previous.replaceChildren(
    ...remembered.map((u) => {
      const name = u.metadata.filename ?? 'a video';
      return h('li', { class: 'notice' }, `Unfinished upload of “${name}” (${mib(u.size ?? 0)} MiB) from ${new Date(u.creationTime).toLocaleString()}: choose the same file to continue it.`);
    }),
  );

  let upload: tus.Upload | null = null;
  let running = false;
  let vodId: string | null = null;
  const samples: Array<{ t: number; bytes: number }> = [];

  const showProgress = (sent: number, total: number) => {
    const now = performance.now();
    samples.push({ t: now, bytes: sent });
    while (samples.length > 2 && now - samples[0]!.t > 5000) samples.shift();
    const first = samples[0]!;
    const speed = now > first.t ? ((sent - first.bytes) * 1000) / (now - first.t) : 0;
    bar.value = total ? (sent / total) * 100 : 0;
    const left = speed > 0 ? duration((total - sent) / speed) : '…';
    figures.textContent = `${mib(sent)} of ${mib(total)} MiB · ${(speed / 1024 / 1024).toFixed(1)} MiB/s · ${left} left`;
  };

  const start = async (file: File) => {
    if (running) return;
    vodId = null;
    samples.length = 0;
    status.textContent = '';
    upload = new tus.Upload(file, {
      endpoint: ENDPOINT,
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, title: title.value.trim(), description: description.value, visibility: visibility.value },
      // The access token lives 15 minutes: each request takes a fresh one.
      onBeforeRequest: async (req) => {
        const token = await session.accessToken();
        if (token) req.setHeader('Authorization', `Bearer ${token}`);
      },
      onAfterResponse: (_req, res) => {
        vodId = res.getHeader(VOD_ID_HEADER) ?? vodId;
      },
      onShouldRetry: (err) => {
        const code = err.originalResponse?.getStatus() ?? 0;
        return code === 0 || code >= 500 || code === 409 || code === 423;
      },
      onProgress: showProgress,
      onError: (err) => {
        running = false;
        pause.disabled = true;
        status.textContent = `The upload stopped: ${readableError(err)}`;
      },
      onSuccess: () => {
        running = false;
        pause.disabled = true;
        bar.value = 100;
        status.textContent = 'Upload complete. Processing…';
        if (vodId) void follow(vodId);
      },
    });
    const earlier = await upload.findPreviousUploads();
    if (earlier[0]) {
      upload.resumeFromPreviousUpload(earlier[0]);
      status.textContent = 'Continuing where the last upload of this file stopped.';
    }
    running = true;
    pause.disabled = false;
    pause.textContent = 'Pause';
    upload.start();
  };

  pause.addEventListener('click', async () => {
    if (!upload) return;
    if (running) {
      running = false;
      await upload.abort();
      pause.textContent = 'Resume';
      status.textContent = 'Paused.';
    } else {
      running = true;
      pause.textContent = 'Pause';
      status.textContent = '';
      samples.length = 0;
      upload.start();
    }
  });

  const show = (state: { status: string; progress: number; failureReason: string | null; title?: string }, id: string): boolean => {
    if (state.status === 'ready') {
      fill(processing, h('p', {}, 'Ready: ', h('a', { href: `/v/${id}`, class: 'watch-link' }, `watch “${state.title ?? 'your video'}”`)));
      status.textContent = 'Your video is ready.';
      return true;
    }
    if (state.status === 'failed') {
      fill(processing, h('p', { role: 'alert' }, `Processing failed: ${state.failureReason ?? 'unknown reason'}`));
      return true;
    }
    fill(processing, h('p', {}, `Processing: ${Math.floor(state.progress)} %`), h('progress', { max: 100, value: state.progress, 'aria-label': 'Processing progress' }));
    return false;
  };

  // The server pushes each change (Server-Sent Events over fetch, so the token stays in a header);
  // if the stream breaks, the page asks every 2 s instead.
  const follow = async (id: string) => {
    const vod = await api<Vod>(`/api/v1/vods/${id}`, { auth: 'required' }).catch(() => null);
    const title = vod?.title;
    if (vod && show(vod, id)) return;
    try {
      const token = await session.accessToken();
      const res = await fetch(`/api/v1/vods/${id}/events`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (data && show({ ...(JSON.parse(data) as { status: string; progress: number; failureReason: string | null }), title }, id)) return;
        }
      }
    } catch {
      // fall through to polling
    }
    for (;;) {
      try {
        if (show(await api<Vod>(`/api/v1/vods/${id}`, { auth: 'required' }), id)) return;
      } catch (err) {
        status.textContent = (err as Error).message;
        return;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void start(file);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') input.click();
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void start(file);
  });
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function readableError(err: Error): string {
  const res = (err as tus.DetailedError).originalResponse;
  if (res) {
    try {
      const body = JSON.parse(res.getBody()) as { error?: { message?: string } };
      if (body.error?.message) return body.error.message;
    } catch {
      // not the API's JSON: tus's own plain-text answer
    }
    return res.getBody() || `the server answered ${res.getStatus()}`;
  }
  return 'the connection was lost; choose the file again to continue.';
}
