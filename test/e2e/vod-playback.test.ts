// A viewer who missed the stream: Chromium + hls.js plays the recording from start to end, then
// seeks back into the middle and plays on from there.
import t from 'tap';
import { launchChromium, servePlayer, type PlayerStats } from '../helpers/browser.ts';
import { until } from '../helpers/media.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

const STREAM_S = 12;

t.test('Chromium + hls.js plays a VOD to the end and seeks', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400', LIVE_GRACE_S: '0' });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { authorization: `Bearer ${alice.accessToken}` } })).json();
  const publisher = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: STREAM_S });
  await until(() => server.live.live()[0], 'the stream to go live', 45_000);
  await publisher.exited;
  const vod = await until(async () => {
    const list = (await server.app.inject({ url: '/api/v1/vods?channel=alice' })).json();
    return list.vods[0]?.status === 'ready' ? list.vods[0] : null;
  }, 'the VOD to be listed as ready', 120_000, 250);

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  t.teardown(() => page.close());
  await page.goto(`${await servePlayer(t)}/player.html?lowLatency=false&src=${encodeURIComponent(base + vod.playbackUrl)}`);
  await page.evaluate(() => {
    const video = document.querySelector('video')!;
    const w = window as unknown as { ended: boolean; seeked: boolean };
    video.addEventListener('ended', () => (w.ended = true));
    video.addEventListener('seeked', () => (w.seeked = true));
    // The whole recording in half the time; still every segment fetched and decoded. The default
    // rate too: attaching the media source reloads the element, which resets playbackRate to it.
    video.defaultPlaybackRate = 2;
    video.playbackRate = 2;
  });
  const stats = () => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats);
  await until(async () => (await stats()).started, 'playback to start', 45_000, 100);
  // Bounded by the recording at normal speed plus room for a loaded machine, not by the 2× speed.
  await until(() => page.evaluate(() => (window as unknown as { ended?: boolean }).ended === true), 'playback to reach the end', STREAM_S * 1000 * 3 + 30_000, 250);
  const end = await page.evaluate(() => ({ position: document.querySelector('video')!.currentTime, duration: document.querySelector('video')!.duration }));
  t.ok(Math.abs(end.duration - vod.durationS) <= 1, `the player sees the recorded duration (${end.duration.toFixed(1)} s vs ${vod.durationS.toFixed(1)} s)`);
  t.ok(end.position >= end.duration - 0.5, `played to the end (${end.position.toFixed(1)} s of ${end.duration.toFixed(1)} s)`);

  const target = end.duration / 2;
  await page.evaluate((to) => {
    const video = document.querySelector('video')!;
    // hls.js may have seeked by itself (over a gap at the start): only this seek counts.
    (window as unknown as { seeked: boolean }).seeked = false;
    video.currentTime = to;
    void video.play();
  }, target);
  await until(() => page.evaluate(() => (window as unknown as { seeked?: boolean }).seeked === true), 'the seek to complete', 30_000, 100);
  const after = await until(async () => {
    const position = await page.evaluate(() => document.querySelector('video')!.currentTime);
    return position > target + 1 ? position : null;
  }, 'playback to go on from the middle', 30_000, 100);
  t.ok(after > target && after < end.duration, `plays on from ${target.toFixed(1)} s (now ${after.toFixed(1)} s)`);
  const final = await stats();
  t.equal(final.fatal, null, `no fatal player error (errors seen: ${JSON.stringify(final.errors)})`);
});
