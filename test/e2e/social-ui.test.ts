// The social features in Debian's Chromium against the real server, two people: bob follows alice,
// alice goes live with ffmpeg and bob's bell shows it without a reload; on the recording bob
// comments, alice replies, bob likes; bob finds the video by a word of its title; bob stops part
// way and resumes from his history. Screenshots go to artifacts/screenshots/social-*.png.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import t from 'tap';
import { eventually, launchChromium } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { bearer } from '../helpers/social.ts';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts', 'screenshots');
const PASSWORD = 'correct horse battery';
const WAIT = { timeout: 30_000 };
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

t.setTimeout(8 * 60_000);

async function signedIn(t: { teardown(fn: () => unknown): void }, browser: Browser, base: string, username: string, errors: string[]): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  page.on('pageerror', (err) => errors.push(`${username}: ${err}`));
  page.on('console', (msg) => msg.type() === 'error' && !/status of 4\d\d/.test(msg.text()) && errors.push(`${username}: ${msg.text()}`));
  await page.goto(`${base}/signin`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await button(page, 'Sign in').click();
  await page.waitForURL(`${base}/dashboard`, WAIT);
  return page;
}

t.test('follow, bell, comments, likes, search and resume in the browser', { timeout: 420_000 }, async (t) => {
  await mkdir(SHOTS, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `social-${name}.png`), fullPage: true });
  const server = await startTestServer(t, { LADDER: '', LIVE_GRACE_S: '2' }, { social: { flushMs: 1000 } });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice', PASSWORD);
  await registerUser(server, 'bob', PASSWORD);
  const browser = await launchChromium(t);
  const errors: string[] = [];
  const bob = await signedIn(t, browser, base, 'bob', errors);
  const alicePage = await signedIn(t, browser, base, 'alice', errors);

  // Bob follows alice from her channel page.
  await bob.goto(`${base}/c/alice`);
  await button(bob, 'Follow').click();
  await button(bob, 'Following').waitFor(WAIT);
  await bob.getByText('1 follower', { exact: true }).waitFor(WAIT);
  t.pass('the follow button turns to Following with the count');

  // Bob waits on the home page; alice goes live; the bell counts it without a reload.
  await bob.goto(`${base}/`);
  const bellCount = bob.getByTestId('bell-count');
  await bellCount.waitFor(WAIT);
  t.equal(await bellCount.textContent(), '0');
  const key = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: bearer(alice.accessToken) })).json().streamKey;
  const stream = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${key}`, { seconds: 120 });
  await eventually(() => bellCount.textContent(), (v) => v === '1', 'the bell to count the go-live', 40_000);
  t.pass('the bell shows the notification without a reload');
  await button(bob, 'Notifications, 1 unread').click();
  await bob.getByRole('link', { name: 'alice is live', exact: true }).waitFor(WAIT);
  await shot(bob, 'bell');
  await button(bob, 'Mark all read').click();
  await eventually(() => bellCount.textContent(), (v) => v === '0', 'the bell to clear');
  await bob.getByRole('link', { name: 'alice', exact: true }).first().waitFor(WAIT);
  t.ok(await bob.getByText('LIVE').count(), 'Following shows alice live');

  // About 20 s of stream, then Stop: the recording becomes a video.
  await until(async () => (await server.app.inject({ url: '/api/v1/channels/alice' })).json().live, 'alice live', 20_000);
  await new Promise((r) => setTimeout(r, 20_000)); // the recording's length is this test's input, not a wait for state
  await stream.stopCleanly();
  const vod = await until(async () => {
    const list = (await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json();
    return list.vods[0]?.status === 'ready' ? list.vods[0] : null;
  }, 'the recording to be ready', 60_000);
  await server.app.inject({ method: 'PATCH', url: `/api/v1/vods/${vod.id}`, headers: bearer(alice.accessToken), payload: { title: 'Sunset timelapse over the harbour' } });

  // Bob comments; alice replies; bob likes the video and alice's reply.
  await bob.goto(`${base}/v/${vod.id}`);
  await bob.getByLabel('Add a comment', { exact: true }).fill('Lovely colours <b>not bold</b>');
  await button(bob, 'Comment').click();
  await bob.getByText('Lovely colours <b>not bold</b>', { exact: true }).waitFor(WAIT);
  t.pass('the comment shows, as text');
  await alicePage.goto(`${base}/v/${vod.id}`);
  await button(alicePage, 'Reply').click();
  await alicePage.getByLabel('Reply to bob', { exact: true }).fill('Thank you!');
  await alicePage.getByRole('button', { name: 'Reply', exact: true }).last().click();
  await alicePage.getByText('Thank you!', { exact: true }).waitFor(WAIT);
  await bob.reload();
  await button(bob, 'Show 1 reply').click();
  await bob.getByText('Thank you!', { exact: true }).waitFor(WAIT);
  await bob.getByTestId('vod-like').click();
  await eventually(() => bob.getByTestId('vod-like').textContent(), (v) => v === 'Liked (1)', 'the video liked');
  await bob.locator('.replies .like').click();
  await eventually(() => bob.locator('.replies .like').textContent(), (v) => v === 'Liked (1)', 'the reply liked');
  await shot(bob, 'vod-comments');

  // Play a little past 8 s and pause: the position goes to the history.
  await bob.evaluate(() => {
    const v = document.querySelector('video')!;
    v.muted = true;
    v.currentTime = 8;
    return v.play();
  });
  await bob.waitForFunction(() => document.querySelector('video')!.currentTime > 9.5, undefined, WAIT);
  await bob.evaluate(() => document.querySelector('video')!.pause());
  const paused = await bob.evaluate(() => Math.floor(document.querySelector('video')!.currentTime));

  // Search finds the video by a word of its title, as you type.
  await bob.goto(`${base}/search`);
  await bob.getByLabel('Search channels and videos', { exact: true }).fill('harb');
  await bob.getByRole('link', { name: 'Sunset timelapse over the harbour', exact: true }).waitFor(WAIT);
  await shot(bob, 'search');

  // Resume from the history.
  await bob.goto(`${base}/history`);
  await bob.getByRole('link', { name: 'Sunset timelapse over the harbour', exact: true }).click();
  const resume = bob.getByTestId('resume');
  await resume.waitFor(WAIT);
  t.match(await resume.textContent(), new RegExp(`^Resume at 0:${String(paused).padStart(2, '0')}$`));
  await resume.click();
  await bob.waitForFunction((at) => Math.abs(document.querySelector('video')!.currentTime - at) < 2, paused, WAIT);
  t.pass('resumed where bob stopped');

  // The same pages at 375 px: usable, nothing sideways.
  await bob.setViewportSize({ width: 375, height: 812 });
  await bob.goto(`${base}/v/${vod.id}`);
  await bob.getByLabel('Add a comment', { exact: true }).waitFor(WAIT);
  t.ok(await bob.evaluate(() => document.documentElement.scrollWidth <= 375), 'the video page fits 375 px');
  await shot(bob, 'vod-375px');
  await bob.goto(`${base}/`);
  // The recording's notification arrived since bob marked all read: the bell says so.
  const bell = bob.getByRole('button', { name: 'Notifications, 1 unread', exact: true });
  await bell.focus();
  await bob.keyboard.press('Enter');
  await bob.getByRole('region', { name: 'Notifications' }).waitFor(WAIT);
  t.ok(await bob.evaluate(() => document.documentElement.scrollWidth <= 375), 'the home page with the bell open fits 375 px');
  await bob.getByRole('link', { name: /^alice published/ }).focus();
  await bob.keyboard.press('Escape');
  await bob.getByRole('region', { name: 'Notifications' }).waitFor({ state: 'hidden', ...WAIT });
  t.ok(await bob.evaluate(() => document.activeElement?.classList.contains('bell')), 'Escape closes the list and gives focus back to the bell');
  await shot(bob, 'home-375px');

  await alicePage.goto(`${base}/dashboard`);
  await alicePage.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor(WAIT);
  await shot(alicePage, 'dashboard');
  t.same(errors, [], 'no script errors in either page');
});
