// A viewer's view: Chromium plays 20 s of the live stream with hls.js in low-latency mode,
// directly from the app and through nginx, and must not stall. The test waits for media time, not
// wall-clock time: a loaded machine may take longer, and the stall counter says whether it did.
import t from 'tap';
import { launchChromium, servePlayer, type PlayerStats } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { startNginx } from '../helpers/nginx.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

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
});
