// The web UI in Debian's Chromium against the real server, as a streamer and a viewer would use
// it: sign up, reveal the stream key, go live with ffmpeg over RTMP, watch the live page start by
// itself and play while the two chat with each other, end the stream, then watch the VOD with its
// chat replayed. Screenshots of every page go to artifacts/screenshots/.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import t from 'tap';
import { eventually, launchChromium } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts', 'screenshots');
const PASSWORD = 'correct horse battery';
// Generous: the CI machine has two cores shared with ffmpeg, Chromium and the server. Locators are
// exact or role-based throughout, so that a dialog or a hint that mentions a label never matches too.
const WAIT = { timeout: 30_000 };
const EXACT = { exact: true };

/** Resolves once the page's <video> has advanced `seconds` of media (bounded). */
async function playsFor(page: Page, seconds: number, timeoutMs = 30_000): Promise<number> {
  await page.locator('video').waitFor({ state: 'visible', timeout: timeoutMs });
  const start = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction(([from, s]) => document.querySelector('video')!.currentTime > from + s, [start, seconds] as const, { timeout: timeoutMs });
  return start;
}

// The walk-through takes minutes on a loaded 2-core machine, more than the runner's per-file
// timeout (package.json): the file asks for its own, a little above the test's.
t.setTimeout(11 * 60_000);

const chatBox = (page: Page) => page.getByRole('textbox', { name: 'Chat message', exact: true });
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

t.test('the web UI: sign up, go live, watch and chat, then the VOD with its chat replay', { timeout: 600_000 }, async (t) => {
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
  await alice.page.getByLabel('Username', EXACT).fill('alice');
  await alice.page.getByLabel('Email', EXACT).fill('alice@example.test');
  await alice.page.getByLabel('Password', EXACT).fill(PASSWORD);
  await button(alice.page, 'Create account').click();
  await alice.page.waitForURL(`${base}/dashboard`, WAIT);
  await alice.page.getByRole('heading', { name: 'Stream from OBS', exact: true }).waitFor(WAIT);
  t.match(await alice.page.getByRole('textbox', { name: 'Server', exact: true }).inputValue(), /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/, 'the dashboard shows the RTMP server URL to paste into OBS');

  // Role and exact name: the rotation dialog is labelled "Rotate the stream key?" and must never match.
  const keyInput = alice.page.getByRole('textbox', { name: 'Stream key', exact: true });
  t.match(await keyInput.inputValue(), /^•+$/, 'the stream key is hidden at first');
  const keyInPage = () => alice.page.evaluate(() => document.body.innerText.includes('live_') || [...document.querySelectorAll('input')].some((i) => i.value.includes('live_')));
  t.notOk(await keyInPage(), 'and the key is nowhere in the page before it is revealed');
  await button(alice.page, 'Reveal key').click();
  const firstKey = await eventually(() => keyInput.inputValue(), (v) => v.startsWith('live_'), 'the key to be revealed');
  t.match(firstKey, /^live_[A-Za-z0-9_-]{43}$/, 'revealing shows the key');

  // Rotation asks first; cancelling keeps the key.
  const rotate = button(alice.page, 'Rotate key…');
  const dialog = alice.page.getByRole('dialog', { name: 'Rotate the stream key?', exact: true });
  await rotate.click();
  await dialog.waitFor(WAIT);
  await button(alice.page, 'Cancel').click();
  await dialog.waitFor({ state: 'detached', ...WAIT });
  t.equal(await keyInput.inputValue(), firstKey, 'cancelling the confirmation keeps the key');
  await rotate.click();
  await dialog.waitFor(WAIT);
  await dialog.getByRole('button', { name: 'Rotate key', exact: true }).click();
  await dialog.waitFor({ state: 'detached', ...WAIT });
  await alice.page.getByText('New key created.').waitFor(WAIT);
  const streamKey = await eventually(() => keyInput.inputValue(), (v) => v !== firstKey, 'the new key to be shown');
  t.ok(streamKey !== firstKey && /^live_[A-Za-z0-9_-]{43}$/.test(streamKey), 'confirming shows a new key');
  await button(alice.page, 'Hide key').click();
  await button(alice.page, 'Reveal key').waitFor(WAIT);
  t.notOk(await eventually(keyInPage, (shown) => !shown, 'the key to leave the page'), 'hiding takes the key out of the page again');
  await alice.page.getByText('Offline. Start streaming in OBS').waitFor(WAIT);
  await alice.page.getByRole('textbox', { name: 'Stream title', exact: true }).fill('Testing <b>Spillway</b>');
  await button(alice.page, 'Save title').click();
  await alice.page.getByText('Title saved.', EXACT).waitFor(WAIT);

  // The viewer signs in and opens the channel before it is live.
  await registerUser(server, 'bob', PASSWORD);
  const bob = await context();
  await bob.page.goto(`${base}/signin?next=/c/alice`);
  await bob.page.getByLabel('Username', EXACT).fill('bob');
  await bob.page.getByLabel('Password', EXACT).fill(PASSWORD);
  await button(bob.page, 'Sign in').click();
  await bob.page.waitForURL(`${base}/c/alice`, WAIT);
  await bob.page.getByText('alice is offline', EXACT).waitFor(WAIT);
  t.pass('the watch page says the channel is offline');

  // Go live: the viewer's page starts playing by itself.
  // OBS with the new key (the old one no longer works).
  const publisher = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 600 });
  await bob.page.waitForFunction(() => document.querySelector('main')?.dataset.state === 'live', undefined, { timeout: 60_000 });
  await playsFor(bob.page, 2, 45_000);
  t.pass('the offline watch page started playing when the stream began, without a reload');
  await bob.page.locator('.live-edge').filter({ hasText: 'LIVE' }).waitFor(WAIT);
  t.pass('the live-edge indicator says LIVE');
  // hls.js fills the menu once it has read the master playlist.
  const quality = bob.page.getByRole('combobox', { name: 'Quality', exact: true }).locator('option');
  const qualities = await eventually(() => quality.allTextContents(), (q) => q.some((name) => name.startsWith('240p')), 'the quality menu to list the renditions');
  t.equal(qualities[0], 'Auto', 'the quality menu starts with Auto');
  t.ok(qualities.some((q) => q.startsWith('240p')), `the quality menu lists the 240p rendition (${qualities.join(', ')})`);
  const title = await eventually(() => bob.page.locator('.channel-title').textContent(), (text) => !!text, 'the channel title');
  t.equal(title, 'Testing <b>Spillway</b>', 'the title is shown as text, not HTML');

  // The streamer's dashboard shows the incoming stream (the first health reading may predate the
  // first decoded frame, and the dashboard polls every few seconds).
  const stats = await eventually(() => alice.page.locator('.stats').textContent({ timeout: 45_000 }), (text) => /\d+×\d+/.test(text ?? ''), 'the input resolution on the dashboard', 45_000);
  t.match(stats, /640×360/, 'the dashboard shows the input resolution');
  await shot(alice.page, 'dashboard-live');

  // Both watch and chat with each other.
  await alice.page.goto(`${base}/c/alice`);
  await playsFor(alice.page, 1, 45_000);
  await chatBox(alice.page).fill('hello from alice');
  await button(alice.page, 'Send').click();
  await bob.page.locator('.chat-log').getByText('hello from alice', EXACT).waitFor(WAIT);
  t.pass("the viewer sees the streamer's message");
  await chatBox(bob.page).fill('hi alice, bob here <script>alert(1)</script>');
  await button(bob.page, 'Send').click();
  const bobsLine = alice.page.locator('.chat-log .chat-line').filter({ hasText: 'hi alice, bob here <script>alert(1)</script>' });
  await bobsLine.waitFor(WAIT);
  t.pass("the streamer sees the viewer's message, as text");
  await bobsLine.locator('summary[aria-label="Moderate bob"]').waitFor(WAIT);
  t.pass('the channel owner gets moderation actions on the viewer’s message');
  t.equal(await bob.page.locator('summary[aria-label^="Moderate"]').count(), 0, 'a plain viewer gets none');

  // Sending too fast: the send button counts down the server's retryAfterMs. Five at once are
  // allowed, then one every two seconds. Typed one by one through playwright, a loaded machine can
  // take two seconds per message and never exceed that, so the burst goes through the form's own
  // submit path within one task, as fast as a user mashing Enter (ten, well under the socket's
  // flood limit). The countdown lasts two seconds at most, less than one poll may take on a loaded
  // machine: the page records every change of the button and the notice.
  await bob.page.evaluate(() => {
    const send = document.querySelector('.chat-form button')!;
    const notice = document.querySelector('.chat-notice')!;
    const seen: string[] = ((window as unknown as { sendButton: string[] }).sendButton = []);
    const observer = new MutationObserver(() => seen.push(`${send.textContent} | ${notice.textContent}`));
    for (const el of [send, notice]) observer.observe(el, { childList: true, characterData: true, subtree: true });
  });
  const countsDown = (line: string) => /^Wait \d+ s \| .*You can send again in \d+ s\.$/.test(line);
  await bob.page.evaluate(() => {
    const input = document.querySelector<HTMLInputElement>('#chat-input')!;
    for (let i = 1; i <= 10; i++) {
      input.value = `message ${i}`;
      input.form!.requestSubmit();
    }
  });
  const shown = await eventually(() => bob.page.evaluate(() => (window as unknown as { sendButton: string[] }).sendButton), (seen) => seen.some(countsDown), 'the send button to count down');
  t.pass(`the viewer is told when they may send again, and the send button counts down (${shown.find(countsDown)})`);
  await button(bob.page, 'Send').waitFor(WAIT);
  t.ok(await button(bob.page, 'Send').isEnabled(), 'then the send button comes back by itself');
  await playsFor(bob.page, 2);
  t.pass('the live video keeps playing during the chat');
  await shot(bob.page, 'watch');

  // The owner turns slow mode on from the chat panel; viewers are told, and it goes off again.
  const slowMode = (page: Page) => page.getByRole('combobox', { name: 'Slow mode', exact: true });
  await slowMode(alice.page).waitFor(WAIT);
  t.pass('the owner has a slow-mode control in the chat');
  t.notOk(await slowMode(bob.page).isVisible(), 'a plain viewer has none');
  await slowMode(alice.page).selectOption('30');
  await bob.page.locator('.chat-log').getByText('Slow mode is on: one message every 30 s.', EXACT).waitFor(WAIT);
  t.pass('viewers are told when slow mode goes on');
  await slowMode(alice.page).selectOption('0');
  await bob.page.locator('.chat-log').getByText('Slow mode is off.', EXACT).waitFor(WAIT);
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
  await chatBox(phone).waitFor(WAIT);
  t.pass('at 375 px the chat form is there');
  t.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 375), 'and nothing overflows sideways');
  await shot(phone, 'watch-375px');
  await phone.close();

  // End the stream: the watch page says so.
  await publisher.stop();
  await bob.page.getByText('alice is offline', EXACT).waitFor({ timeout: 45_000 });
  t.pass('the watch page goes offline when the stream ends');

  // The recording becomes a VOD, listed on the home page.
  const vod = await until(async () => {
    const list = (await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json() as { vods: Array<{ id: string; status: string }> };
    return list.vods.find((v) => v.status === 'ready');
  }, 'the VOD to be ready', 180_000, 500);
  await home.reload();
  await home.locator('.vod-card').first().waitFor(WAIT);
  await shot(home, 'home');

  await bob.page.goto(`${base}/v/${vod.id}`);
  await playsFor(bob.page, 1, 45_000);
  t.pass('the VOD plays');
  const replay = bob.page.locator('.replay .chat-log');
  const offsets = await until(async () => {
    const body = (await server.app.inject({ url: `/api/v1/vods/${vod.id}/chat?from=0&to=3600000` })).json() as { messages: Array<{ text: string; offsetMs: number }> };
    const alices = body.messages.find((m) => m.text === 'hello from alice')?.offsetMs;
    const bobs = body.messages.find((m) => m.text.startsWith('hi alice, bob here'))?.offsetMs;
    return alices !== undefined && bobs !== undefined ? { alices, bobs } : null;
  }, "the messages in the VOD's chat", 30_000, 100);
  // Paused at 0, and read only once the replay has handled the seek: playback cannot have reached
  // the message meanwhile, however slow the machine.
  const seekTo = (s: number, play: boolean) =>
    bob.page.evaluate(([to, resume]) => {
      const video = document.querySelector('video')!;
      const seeked = new Promise((resolve) => video.addEventListener('seeked', resolve, { once: true }));
      video.pause();
      video.currentTime = to;
      return seeked.then(async () => {
        if (resume) await video.play();
      });
    }, [s, play] as const);
  await seekTo(0, false);
  if (offsets.alices > 1000) t.equal(await replay.getByText('hello from alice', EXACT).count(), 0, 'the message is not shown before playback reaches it');
  await seekTo(offsets.alices / 1000 + 0.5, true);
  await replay.getByText('hello from alice', EXACT).waitFor(WAIT);
  t.pass('the chat replay shows the message once playback reaches it');
  // Bob's message comes later in the recording: playback has to get there in real time.
  await replay.getByText('hi alice, bob here <script>alert(1)</script>', EXACT).waitFor({ timeout: WAIT.timeout + Math.max(0, offsets.bobs - offsets.alices) * 2 });

  // Hovering the seek bar shows the preview thumbnail of that moment.
  // The thumbnails track loads on its own schedule and the preview follows pointer moves, so the
  // pointer keeps moving until the preview shows.
  const seek = bob.page.getByRole('slider', { name: 'Seek', exact: true });
  const preview = bob.page.locator('.seek-preview');
  let nudge = 0;
  await until(async () => {
    const box = (await seek.boundingBox())!;
    await bob.page.mouse.move(box.x + box.width * 0.3 + (nudge++ % 2), box.y + box.height / 2);
    return preview.isVisible();
  }, 'the seek preview to show', 30_000, 100);
  const thumb = await eventually(() => bob.page.locator('.preview-thumb').evaluate((el) => getComputedStyle(el).backgroundImage), (bg) => bg !== 'none', 'the preview thumbnail');
  t.match(thumb, /sprite\.jpg/, 'the seek preview shows a sprite thumbnail');
  await shot(bob.page, 'vod');

  // The streamer renames the recording on the dashboard, then signs out.
  await alice.page.goto(`${base}/dashboard`);
  const titleBox = alice.page.getByRole('textbox', { name: /^Title of the recording/ });
  await titleBox.fill('First stream');
  await button(alice.page, 'Rename').click();
  await alice.page.getByText('Renamed to “First stream”.', EXACT).waitFor(WAIT);
  const renamed = (await server.app.inject({ url: `/api/v1/vods/${vod.id}` })).json() as { title: string };
  t.equal(renamed.title, 'First stream', 'renaming on the dashboard renames the VOD');
  await shot(alice.page, 'dashboard');
  await button(alice.page, 'Sign out').click();
  await alice.page.waitForURL(`${base}/`, WAIT);
  await alice.page.getByRole('link', { name: 'Sign in', exact: true }).waitFor(WAIT);
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
  });
  const unbuilt = await bare.inject({ url: '/' });
  t.equal(unbuilt.statusCode, 503, 'without a build the pages answer 503');
  t.match(unbuilt.body, /npm run build:web/, 'and say how to build the UI');
});
