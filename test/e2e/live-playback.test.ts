// A viewer's view: Chromium plays 20 s of the live stream with hls.js in low-latency mode,
// directly from the app and through nginx, and must not stall. The test waits for media time, not
// wall-clock time: a loaded machine may take longer, and the stall counter says whether it did.
import t from 'tap';
import { launchChromium, servePlayer, type PlayerStats } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { startNginx } from '../helpers/nginx.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { LIVE_HLS_SETTINGS } from '../../web/src/player.ts';

const WATCH_S = 20;
// A live stream cannot play faster than real time; the rest is room for a loaded 2-core machine.
const WATCH_DEADLINE_MS = WATCH_S * 3 * 1000;

t.test('Chromium + hls.js plays the live stream without stalling', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400', LOG_LEVEL: 'info' });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { authorization: `Bearer ${alice.accessToken}` } })).json();
  publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 600 });
  const playbackUrl: string = await until(async () => (await server.app.inject({ url: '/api/v1/channels/alice' })).json().playbackUrl, 'the channel to go live', 45_000);
  const nginx = await startNginx(t, { appUrl: base, mediaDir: server.config.mediaDir });
  const browser = await launchChromium(t);
  const playerBase = await servePlayer(t);

  for (const [name, origin] of [['directly', base], ['through nginx', nginx]] as const) {
    t.test(name, async (t) => {
      const page = await browser.newPage();
      t.teardown(() => page.close());
      await page.goto(`${playerBase}/player.html?src=${encodeURIComponent(origin + playbackUrl)}`);
      await until(() => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats.started), 'playback to start', 45_000, 100);
      const startPosition = await page.evaluate(() => document.querySelector('video')!.currentTime);
      const startedAt = Date.now();
      const watched = await page
        .waitForFunction(([from, s]) => document.querySelector('video')!.currentTime >= from + s, [startPosition, WATCH_S] as const, { timeout: WATCH_DEADLINE_MS, polling: 250 })
        .then(() => true, () => false);
      const wallS = (Date.now() - startedAt) / 1000;
      const stats = await page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats);
      const endPosition = await page.evaluate(() => document.querySelector('video')!.currentTime);
      t.equal(stats.fatal, null, 'no fatal player error');
      t.ok(watched, `the video played ${WATCH_S} s (advanced ${(endPosition - startPosition).toFixed(1)} s in ${wallS.toFixed(1)} s of wall clock)`);
      t.equal(stats.stalls, 0, `no stall in ${WATCH_S} s of playback (errors seen: ${JSON.stringify(stats.errors)})`);
      const latency = stats.latency.at(-1) ?? NaN;
      t.ok(Number.isFinite(latency), `hls.js reports a live latency (${latency.toFixed(2)} s)`);
      t.comment(`${name}: first frame after ${Math.round(stats.firstFrameAt ?? 0)} ms, latency ${latency.toFixed(2)} s`);
    });
  }

  t.test("the web UI player's catch-up brings a viewer who fell 2 s behind back to the live edge", async (t) => {
    // The watch page's own settings and catch-up (web/src/live-catchup.ts, bundled by servePlayer).
    // A pause stands in for a slow start: both leave the viewer behind with the media buffered.
    const page = await browser.newPage();
    t.teardown(() => page.close());
    await page.goto(`${playerBase}/player.html?catchUp=1&config=${encodeURIComponent(JSON.stringify(LIVE_HLS_SETTINGS))}&src=${encodeURIComponent(base + playbackUrl)}`);
    await until(() => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats.started), 'playback to start', 45_000, 100);
    await page.evaluate(() => {
      const video = document.querySelector('video')!;
      const w = window as unknown as { maxRate: number };
      w.maxRate = 1;
      video.addEventListener('ratechange', () => (w.maxRate = Math.max(w.maxRate, video.playbackRate)));
      video.pause();
    });
    // behind = the live edge hls.js estimates (it goes on loading while paused) minus the playhead
    const behind = () => page.evaluate(() => {
      const hls = (window as unknown as { hls: { liveSyncPosition: number | null; targetLatency: number | null } }).hls;
      return (hls.liveSyncPosition ?? NaN) + (hls.targetLatency ?? NaN) - document.querySelector('video')!.currentTime;
    });
    await until(async () => (await behind()) > 2.3, 'the paused viewer to be 2 s behind', 30_000, 100);
    await page.evaluate(() => document.querySelector('video')!.play());
    const caughtUp = await page
      .waitForFunction(() => {
        const hls = (window as unknown as { hls: { latency: number; targetLatency: number | null } }).hls;
        return hls.targetLatency !== null && hls.latency - hls.targetLatency < 0.5;
      }, null, { timeout: 60_000, polling: 250 })
      .then(() => true, () => false);
    const end = await page.evaluate(() => ({ latency: (window as unknown as { hls: { latency: number } }).hls.latency, maxRate: (window as unknown as { maxRate: number }).maxRate }));
    t.ok(end.maxRate > 1, `it played faster than real time to catch up (up to ${end.maxRate}×)`);
    t.ok(caughtUp, `it got back within 0.5 s of hls.js's target (latency now ${end.latency.toFixed(2)} s)`);
  });
});
