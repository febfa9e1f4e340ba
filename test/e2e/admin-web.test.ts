// The account and admin pages in Debian's Chromium against the real server and a real SMTP server:
// a forgotten password becomes a new one through the emailed link, and an admin suspends a
// streamer who is live (their stream ends and their page says so), then lifts it.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import t from 'tap';
import { launchChromium } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { freePort } from '../helpers/services.ts';
import { startSmtp, tokenFromMail } from '../helpers/smtp.ts';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts', 'screenshots');
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new passphrase';
const FINAL_PASSWORD = 'the final passphrase';
const WAIT = { timeout: 30_000 };
const EXACT = { exact: true };

t.setTimeout(6 * 60_000);

t.test('account and admin pages in Chromium', { timeout: 5 * 60_000 }, async (t) => {
  await mkdir(SHOTS, { recursive: true });
  const smtp = await startSmtp(t);
  // Links in mail point at PUBLIC_URL, so the server listens on a port known before it starts.
  const port = await freePort();
  const server = await startTestServer(t, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: smtp.url, LADDER: '', LOG_LEVEL: 'info' });
  const base = await server.listen();
  t.equal(base, `http://127.0.0.1:${port}`);
  const browser = await launchChromium(t);
  const errors: string[] = [];
  const newPage = async (): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    page.on('pageerror', (err) => errors.push(String(err)));
    return page;
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const signIn = async (page: Page, username: string, password: string) => {
    await page.goto(`${base}/signin`);
    await page.getByLabel('Username', EXACT).fill(username);
    await page.getByLabel('Password', EXACT).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/dashboard`, WAIT);
  };

  await registerUser(server, 'boss'); // the first account: the instance's admin
  await smtp.nextMail('boss@example.test');
  const alice = await registerUser(server, 'alice');
  // With SMTP configured, alice confirms her address before she may stream.
  const verify = tokenFromMail(await smtp.nextMail('alice@example.test'), '/verify-email');

  await t.test('the verification link confirms the address', async (t) => {
    const page = await newPage();
    await page.goto(`${base}/verify-email#token=${verify}`);
    await page.getByText('Your email address is confirmed').waitFor(WAIT);
    t.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
    t.equal(await server.accounts.streamRefusal(alice.user.id), null);
  });

  await t.test('a forgotten password is replaced through the emailed link', async (t) => {
    const page = await newPage();
    await page.goto(`${base}/signin`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL(`${base}/forgot-password`, WAIT);
    await page.getByLabel('Email', EXACT).fill('alice@example.test');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByText('If an account uses this address').waitFor(WAIT);
    const mail = await smtp.nextMail('alice@example.test');
    const link = new RegExp(`${base.replace(/[.:/]/g, '\\$&')}/reset-password#token=[A-Za-z0-9_-]+`).exec(mail.text)?.[0];
    t.ok(link, 'the mail links to this server');
    await page.goto(link!);
    await page.getByLabel('New password', EXACT).fill(NEW_PASSWORD);
    await shot(page, 'reset-password');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByRole('heading', { name: 'Password changed' }).waitFor(WAIT);
    await page.getByRole('link', { name: 'Sign in', exact: true }).last().click();
    await page.waitForURL(`${base}/signin`, WAIT);
    await page.getByLabel('Username', EXACT).fill('alice');
    await page.getByLabel('Password', EXACT).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor(WAIT);
    t.pass('the old password is refused');
    await page.getByLabel('Password', EXACT).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/dashboard`, WAIT);
    t.pass('the new password signs in');
    const again = await page.request.post(`${base}/api/v1/auth/password-reset/confirm`, { data: { token: link!.split('#token=')[1], newPassword: 'third password here' } });
    t.equal(again.status(), 400, 'the link works once');

    // Signed in, the dashboard changes the password again (the current one is asked for).
    await page.getByLabel('Current password', EXACT).fill('not it at all');
    await page.getByLabel('New password', EXACT).fill(FINAL_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is wrong.').waitFor(WAIT);
    await page.getByLabel('Current password', EXACT).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed. Your other devices are signed out.').waitFor(WAIT);
    t.equal((await server.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: FINAL_PASSWORD } })).statusCode, 200, 'the dashboard changed it');
  });

  await t.test('an admin suspends a live streamer: the stream ends and the page says so; then lifts it', async (t) => {
    const session = (await server.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: FINAL_PASSWORD } })).json();
    const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { authorization: `Bearer ${session.accessToken}` } })).json();
    const publisher = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 240 });

    const viewer = await newPage();
    await viewer.goto(`${base}/c/alice`);
    await viewer.locator('main[data-state="live"]').waitFor({ timeout: 60_000 });

    const admin = await newPage();
    await signIn(admin, 'boss', PASSWORD);
    await admin.getByRole('link', { name: 'Admin', exact: true }).click();
    await admin.waitForURL(`${base}/admin`, WAIT);
    await admin.getByRole('link', { name: 'alice', exact: true }).waitFor(WAIT); // live now
    await admin.getByLabel('Find users', EXACT).fill('alice');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.getByRole('button', { name: 'Suspend alice' }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.getByLabel('Reason', EXACT).fill('Breaking the rules on stream');
    await dialog.getByRole('button', { name: 'Suspend', exact: true }).click();
    await admin.getByText('alice is suspended.').waitFor(WAIT);
    await shot(admin, 'admin');

    await viewer.locator('main[data-state="offline"][data-suspended="true"]').waitFor({ timeout: 30_000 });
    await viewer.getByText('alice is suspended', EXACT).waitFor(WAIT);
    await shot(viewer, 'watch-suspended');
    t.pass('the watch page says the channel is suspended');
    await publisher.exited;
    const ended = await server.database.db.selectFrom('live_sessions').select('end_reason').where('ended_at', 'is not', null).execute();
    t.same(ended.map((r) => r.end_reason), ['suspended'], 'the stream ended as suspended');

    await admin.getByRole('button', { name: 'Lift suspension of alice' }).click();
    await admin.getByText("alice's suspension is lifted.").waitFor(WAIT);
    await viewer.locator('main[data-suspended="false"]').waitFor({ timeout: 30_000 });
    await viewer.getByText('alice is offline', EXACT).waitFor(WAIT);
    t.pass('lifted: the page says offline again');
    await until(async () => (await server.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: FINAL_PASSWORD } })).statusCode === 200, 'alice signs in again');
  });

  t.same(errors, [], 'no page errors');
});
