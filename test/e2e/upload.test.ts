// A creator uploads a video from the upload page in Debian's Chromium: the upload is slowed down
// (DevTools network throttling), the page is reloaded half-way, the same file is chosen again and
// the upload continues from the server's offset (tus-js-client's fingerprint), then the page shows
// the processing until the video is ready, and the video plays.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { eventually, launchChromium } from '../helpers/browser.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';
import { makeVideo } from '../helpers/uploads.ts';

const WAIT = { timeout: 60_000 };

t.test('upload from the page, reload mid-way, resume, watch it process, play it', async (t) => {
  const dir = await tempDir(t, 'upload-e2e');
  const server = await startTestServer(t, { LADDER: '240:300', X264_PRESET: 'ultrafast' });
  const base = await server.listen();
  const session = await registerUser(server, 'creator');
  const file = await makeVideo(dir, { seconds: 24, width: 640, height: 360, kbps: 9000, name: 'holiday.mp4' });
  const size = (await readFile(file)).length;
  t.ok(size > 12 * 1024 * 1024, `a file of ${(size / 1024 / 1024).toFixed(1)} MiB: more than one 8 MiB chunk`);

  const browser = await launchChromium(t);
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  // Signed in as the API left it: the page reads its session from localStorage.
  await page.goto(`${base}/signin`);
  await page.evaluate((s) => localStorage.setItem('spillway.session', JSON.stringify({ user: s.user, accessToken: s.accessToken, accessExpiresAt: Date.now() + 14 * 60_000, refreshToken: s.refreshToken })), session);
  const cdp = await context.newCDPSession(page);
  const throttle = (bytesPerSecond: number) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  await throttle(3 * 1024 * 1024);

  await page.goto(`${base}/upload`);
  await page.getByLabel('Title', { exact: true }).fill('Holiday');
  await page.locator('input[type=file]').setInputFiles(file);
  const bar = page.getByRole('progressbar', { name: 'Upload progress' });
  const value = async () => Number(await bar.getAttribute('value'));
  await eventually(value, (v) => v > 65, 'more than one chunk to be sent', 60_000);
  t.match(await page.locator('.upload-figures').textContent(), /^[\d.]+ of [\d.]+ MiB · [\d.]+ MiB\/s · \d+:\d\d left$/, 'bytes, speed and time left');

  // Reload in the middle: the page remembers the unfinished upload.
  await page.reload();
  await page.getByText(/Unfinished upload of “holiday\.mp4”/).waitFor(WAIT);
  const offsets: number[] = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') offsets.push(Number(req.headers()['upload-offset']));
  });
  await throttle(-1);
  await page.locator('input[type=file]').setInputFiles(file);
  await page.getByText('Continuing where the last upload of this file stopped.').waitFor(WAIT);
  await page.getByText(/Upload complete|Processing|Ready/).first().waitFor(WAIT);
  t.ok(offsets[0]! >= 8 * 1024 * 1024, `the upload continued at byte ${offsets[0]}, not from the start`);
  const rows = await server.database.db.selectFrom('vods').selectAll().execute();
  t.equal(rows.length, 1, 'one upload, one VOD');
  t.equal(rows[0]!.title, 'Holiday');

  // Processing shows until it is ready, then a link to watch it.
  const watch = page.getByRole('link', { name: /watch “Holiday”/ });
  await watch.waitFor({ timeout: 180_000 });
  await watch.click();
  await page.waitForURL(`${base}/v/${rows[0]!.id}`, WAIT);
  const position = await eventually(() => page.evaluate(() => document.querySelector('video')?.currentTime ?? 0), (s) => s > 1, 'the uploaded video to play', 60_000);
  t.ok(position > 1, `the video plays (${position.toFixed(1)} s)`);
});
