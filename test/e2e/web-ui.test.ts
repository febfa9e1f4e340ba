// The web UI in Debian's Chromium against the real server, as a streamer and a viewer would use
// it: sign up, reveal the stream key, go live with ffmpeg over RTMP, watch the live page start by
// itself and play while the two chat with each other, end the stream, then watch the VOD with its
// chat replayed. Screenshots of every page go to artifacts/screenshots/.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import t from 'tap';
import { launchChromium } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts', 'screenshots');
const PASSWORD = 'correct horse battery';
const WAIT = { timeout: 30_000 };

/** Resolves once the page's <video> has advanced `seconds` of media (bounded). */
async function playsFor(page: Page, seconds: number, timeoutMs = 30_000): Promise<number> {
  await page.locator('video').waitFor({ state: 'visible', timeout: timeoutMs });
  const start = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction(([from, s]) => document.querySelector('video')!.currentTime > from + s, [start, seconds] as const, { timeout: timeoutMs });
  return start;
}

const chatBox = (page: Page) => page.getByRole('textbox', { name: 'Chat message' });

t.test('the web UI: sign up, go live, watch and chat, then the VOD with its chat replay', { timeout: 420_000 }, async (t) => {
  await mkdir(SHOTS, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const server = await startTestServer(t, { LADDER: '240:400', LOG_LEVEL: 'info', LIVE_GRACE_S: '2' });
  const base = await server.listen();
  const browser = await launchChromium(t);
  const consoleErrors: string[] = [];
  const context = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
    page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
    return { ctx, page };
  };

  // The streamer signs up in the browser and lands on the dashboard.
  const alice = await context();
  await alice.page.goto(`${base}/signup`);
  await alice.page.getByLabel('Username').fill('alice');
  await alice.page.getByLabel('Email').fill('alice@example.test');
  await alice.page.getByLabel('Password').fill(PASSWORD);
  await alice.page.getByRole('button', { name: 'Create account' }).click();
  await alice.page.waitForURL(`${base}/dashboard`, WAIT);
  await alice.page.getByRole('heading', { name: 'Stream from OBS' }).waitFor(WAIT);
  t.match(await alice.page.getByLabel('Server').inputValue(), /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/, 'the dashboard shows the RTMP server URL to paste into OBS');

  const keyInput = alice.page.getByLabel('Stream key');
  t.match(await keyInput.inputValue(), /^•+$/, 'the stream key is hidden at first');
  const keyInPage = () => alice.page.evaluate(() => document.body.innerText.includes('live_') || [...document.querySelectorAll('input')].some((i) => i.value.includes('live_')));
  t.notOk(await keyInPage(), 'and the key is nowhere in the page before it is revealed');
  await alice.page.getByRole('button', { name: 'Reveal key' }).click();
  const firstKey = await keyInput.inputValue();
  t.match(firstKey, /^live_[A-Za-z0-9_-]{43}$/, 'revealing shows the key');

  // Rotation asks first; cancelling keeps the key.
  await alice.page.getByRole('button', { name: 'Rotate key…' }).click();
  const dialog = alice.page.getByRole('dialog', { name: 'Rotate the stream key?' });
  await dialog.waitFor(WAIT);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached', ...WAIT });
  t.equal(await keyInput.inputValue(), firstKey, 'cancelling the confirmation keeps the key');
  await alice.page.getByRole('button', { name: 'Rotate key…' }).click();
  await dialog.getByRole('button', { name: 'Rotate key' }).click();
  await alice.page.getByText('New key created.').waitFor(WAIT);
  const streamKey = await keyInput.inputValue();
  t.ok(streamKey !== firstKey && /^live_/.test(streamKey), 'confirming shows a new key');
  await alice.page.getByRole('button', { name: 'Hide key' }).click();
  t.notOk(await keyInPage(), 'hiding takes the key out of the page again');
  await alice.page.getByText('Offline. Start streaming in OBS').waitFor(WAIT);
  await alice.page.getByLabel('Stream title').fill('Testing <b>Spillway</b>');
  await alice.page.getByRole('button', { name: 'Save title' }).click();
  await alice.page.getByText('Title saved.').waitFor(WAIT);

  // The viewer signs in and opens the channel before it is live.
  await registerUser(server, 'bob', PASSWORD);
  const bob = await context();
  await bob.page.goto(`${base}/signin?next=/c/alice`);
  await bob.page.getByLabel('Username').fill('bob');
  await bob.page.getByLabel('Password').fill(PASSWORD);
  await bob.page.getByRole('button', { name: 'Sign in' }).click();
  await bob.page.waitForURL(`${base}/c/alice`, WAIT);
  await bob.page.getByText('alice is offline').waitFor(WAIT);
  t.pass('the watch page says the channel is offline');

  // Go live: the viewer's page starts playing by itself.
  // OBS with the new key (the old one no longer works).
  const publisher = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 600 });
  await bob.page.waitForFunction(() => document.querySelector('main')?.dataset.state === 'live', undefined, { timeout: 45_000 });
  await playsFor(bob.page, 2, 45_000);
  t.pass('the offline watch page started playing when the stream began, without a reload');
  t.ok(await bob.page.locator('.live-edge').filter({ hasText: 'LIVE' }).isVisible(), 'the live-edge indicator says LIVE');
  await bob.page.waitForFunction(() => document.querySelectorAll('select[aria-label="Quality"] option').length >= 2, undefined, WAIT);
  const qualities = await bob.page.getByLabel('Quality').locator('option').allTextContents();
  t.equal(qualities[0], 'Auto', 'the quality menu starts with Auto');
  t.ok(qualities.some((q) => q.startsWith('240p')), `the quality menu lists the 240p rendition (${qualities.join(', ')})`);
  t.equal(await bob.page.locator('.channel-title').textContent(), 'Testing <b>Spillway</b>', 'the title is shown as text, not HTML');

  // The streamer's dashboard shows the incoming stream.
  await alice.page.getByText('Input bitrate').waitFor(WAIT);
  t.match(await alice.page.locator('.stats').textContent(), /640×360/, 'the dashboard shows the input resolution');
  await shot(alice.page, 'dashboard-live');

  // Both watch and chat with each other.
  await alice.page.goto(`${base}/c/alice`);
  await playsFor(alice.page, 1, 45_000);
  await chatBox(alice.page).fill('hello from alice');
  await alice.page.getByRole('button', { name: 'Send' }).click();
  await bob.page.locator('.chat-log').getByText('hello from alice').waitFor(WAIT);
  t.pass("the viewer sees the streamer's message");
  await chatBox(bob.page).fill('hi alice, bob here <script>alert(1)</script>');
  await bob.page.getByRole('button', { name: 'Send' }).click();
  await alice.page.locator('.chat-log').getByText('hi alice, bob here <script>alert(1)</script>').waitFor(WAIT);
  t.pass("the streamer sees the viewer's message, as text");
  t.ok(await alice.page.locator('summary[aria-label="Moderate bob"]').first().isVisible(), 'the channel owner gets moderation actions on the viewer’s message');
  t.equal(await bob.page.locator('summary[aria-label^="Moderate"]').count(), 0, 'a plain viewer gets none');

  // Sending too fast: the send button counts down the server's retryAfterMs.
  const coolingDown = () =>
    bob.page.evaluate(() => {
      const button = document.querySelector('.chat-form button');
      const notice = document.querySelector('.chat-notice');
      return /^Wait \d+ s$/.test(button?.textContent ?? '') && /You can send again in \d+ s/.test(notice?.textContent ?? '');
    });
  // Five at once are allowed, then one every two seconds: a burst well past that must be refused.
  for (let i = 1; i <= 15 && !(await coolingDown()); i++) {
    await chatBox(bob.page).fill(`message ${i}`);
    await chatBox(bob.page).press('Enter');
  }
  await until(coolingDown, 'the send button to count down', 10_000, 50);
  t.pass('the viewer is told when they may send again, and the send button counts down');
  await playsFor(bob.page, 2);
  t.pass('the live video keeps playing during the chat');
  await shot(bob.page, 'watch');

  // The owner turns slow mode on from the chat panel; viewers are told, and it goes off again.
  t.ok(await alice.page.getByLabel('Slow mode').isVisible(), 'the owner has a slow-mode control in the chat');
  t.notOk(await bob.page.getByLabel('Slow mode').isVisible(), 'a plain viewer has none');
  await alice.page.getByLabel('Slow mode').selectOption('30');
  await bob.page.locator('.chat-log').getByText('Slow mode is on: one message every 30 s.').waitFor(WAIT);
  t.pass('viewers are told when slow mode goes on');
  await alice.page.getByLabel('Slow mode').selectOption('0');
  await bob.page.locator('.chat-log').getByText('Slow mode is off.').waitFor(WAIT);
  t.pass('and when it goes off');

  // The home page lists the live channel with its preview picture.
  const home = await bob.ctx.newPage();
  await home.goto(`${base}/`);
  const card = home.locator('.live-card').filter({ hasText: 'alice' });
  await card.waitFor(WAIT);
  t.match(await card.textContent(), /Testing <b>Spillway<\/b>.*viewer.*live since/s, 'the live card shows title, viewers and since when');
  await home.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('.live-card img');
    return !!img && img.complete && img.naturalWidth > 0;
  }, undefined, WAIT);
  t.pass('the live card shows a preview picture');
  await shot(home, 'home-live');

  // At phone width the watch page still has the player and the chat form.
  const phone = await bob.ctx.newPage();
  await phone.setViewportSize({ width: 375, height: 812 });
  await phone.goto(`${base}/c/alice`);
  await playsFor(phone, 1, 45_000);
  t.ok(await chatBox(phone).isVisible(), 'at 375 px the chat form is there');
  t.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 375), 'and nothing overflows sideways');
  await shot(phone, 'watch-375px');
  await phone.close();

  // End the stream: the watch page says so.
  await publisher.stop();
  await bob.page.getByText('alice is offline').waitFor({ timeout: 45_000 });
  t.pass('the watch page goes offline when the stream ends');

  // The recording becomes a VOD, listed on the home page.
  const vod = await until(async () => {
    const list = (await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json() as { vods: Array<{ id: string; status: string }> };
    return list.vods.find((v) => v.status === 'ready');
  }, 'the VOD to be ready', 120_000, 500);
  await home.reload();
  await home.locator('.vod-card').first().waitFor(WAIT);
  await shot(home, 'home');

  await bob.page.goto(`${base}/v/${vod.id}`);
  await playsFor(bob.page, 1, 45_000);
  t.pass('the VOD plays');
  const replay = bob.page.locator('.replay .chat-log');
  const offset = await until(async () => {
    const body = (await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat?from=0&to=3600000` })).json() as { messages: Array<{ text: string; offsetMs: number }> };
    return body.messages.find((m) => m.text === 'hello from alice')?.offsetMs;
  }, "alice's message in the VOD's chat", 10_000);
  await bob.page.evaluate(() => (document.querySelector('video')!.currentTime = 0));
  await bob.page.waitForFunction(() => document.querySelector('video')!.currentTime < 1, undefined, WAIT);
  if (offset > 3000) t.equal(await replay.getByText('hello from alice').count(), 0, 'the message is not shown before playback reaches it');
  await bob.page.evaluate((s) => (document.querySelector('video')!.currentTime = s), offset / 1000 + 0.5);
  await replay.getByText('hello from alice').waitFor(WAIT);
  t.pass('the chat replay shows the message once playback reaches it');
  await replay.getByText('hi alice, bob here').waitFor(WAIT);

  // Hovering the seek bar shows the preview thumbnail of that moment.
  const seek = bob.page.getByRole('slider', { name: 'Seek' });
  const box = (await seek.boundingBox())!;
  await bob.page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await bob.page.locator('.seek-preview').waitFor({ state: 'visible', timeout: 10_000 });
  t.match(await bob.page.locator('.preview-thumb').evaluate((el) => getComputedStyle(el).backgroundImage), /sprite\.jpg/, 'the seek preview shows a sprite thumbnail');
  await shot(bob.page, 'vod');

  // The streamer renames the recording on the dashboard, then signs out.
  await alice.page.goto(`${base}/dashboard`);
  const titleBox = alice.page.getByRole('textbox', { name: /^Title of the recording/ });
  await titleBox.fill('First stream');
  await alice.page.getByRole('button', { name: 'Rename' }).click();
  await alice.page.getByText('Renamed to “First stream”.').waitFor(WAIT);
  const renamed = (await server.app.inject({ url: `/api/v1/vods/${vod.id}` })).json() as { title: string };
  t.equal(renamed.title, 'First stream', 'renaming on the dashboard renames the VOD');
  await shot(alice.page, 'dashboard');
  await alice.page.getByRole('button', { name: 'Sign out' }).click();
  await alice.page.waitForURL(`${base}/`, WAIT);
  await alice.page.getByRole('link', { name: 'Sign in' }).waitFor(WAIT);
  t.pass('signing out returns to the home page, signed out');

  t.same(consoleErrors.filter((e) => !/favicon|ERR_ABORTED|status of 404/.test(e)), [], 'no script errors in any page');
});

t.test('pages carry security headers; a missing build is explained, not a crash', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400', LOG_LEVEL: 'info' });
  const page = await server.app.inject({ url: '/c/alice' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from the server itself (no inline script)');
  t.match(csp, /worker-src 'self' blob:/, 'hls.js may start its blob: worker');
  t.match(csp, /media-src 'self' blob:/, 'and play through blob: media');
  t.match(csp, /frame-ancestors 'none'/, 'no framing');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['referrer-policy'], 'same-origin');
  t.equal((await server.app.inject({ url: '/no/such/page' })).statusCode, 404, 'unknown paths are 404s');
  const asset = /src="(\/assets\/app-[^"]+\.js)"/.exec(page.body)?.[1];
  const js = await server.app.inject({ url: asset ?? '/assets/missing.js' });
  t.equal(js.statusCode, 200, 'the bundle is served');
  t.match(js.headers['cache-control'], /immutable/, 'with a long, immutable cache (its name carries a hash)');
  const thumb = await server.app.inject({ url: '/api/v1/channels/nobody/thumbnail.jpg' });
  t.equal(thumb.statusCode, 404, 'no thumbnail for an unknown channel');

  const { default: Fastify } = await import('fastify');
  const { webRoutes } = await import('../../web/web-routes.ts');
  const bare = Fastify();
  t.teardown(() => bare.close());
  await bare.register(webRoutes, {
    publicUrl: '',
    cdnUrl: null,
    distDir: path.join(server.dataDir, 'no-dist'),
    thumbnails: { channels: { bySlug: async () => null }, liveSession: () => null, mediaDir: server.dataDir, ffmpegPath: 'ffmpeg' },
  });
  const unbuilt = await bare.inject({ url: '/' });
  t.equal(unbuilt.statusCode, 503, 'without a build the pages answer 503');
  t.match(unbuilt.body, /npm run build:web/, 'and say how to build the UI');
});
