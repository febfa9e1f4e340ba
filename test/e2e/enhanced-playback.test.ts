// A viewer's view of Enhanced RTMP publishes: Chromium + hls.js (defaults, low-latency mode) plays
// the AV1 source rendition as Spillway passes it through; for HEVC, whose decoding in Chromium
// depends on the platform, the test records what this Chromium says and plays what the master
// offers (the H.264 rung when HEVC is not supported).
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { launchChromium, servePlayer, type PlayerStats } from '../helpers/browser.ts';
import { encodeFragmentedMp4 } from '../helpers/encoded-media.ts';
import { buildTags } from '../helpers/enhanced-tags.ts';
import { until } from '../helpers/media.ts';
import { readMp4Samples } from '../helpers/mp4-samples.ts';
import { publishRtmp } from '../helpers/rtmp-publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { tempDir } from '../helpers/services.ts';

const WATCH_S = 10;
const WATCH_DEADLINE_MS = WATCH_S * 4 * 1000;

t.test('Chromium + hls.js plays Enhanced RTMP publishes', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400' });
  const base = await server.listen();
  const dir = await tempDir(t, 'enhanced-playback');
  const browser = await launchChromium(t);
  const playerBase = await servePlayer(t);

  const cases = [
    { codec: 'av1', fourCc: 'av01', audio: 'opus', audioFourCc: 'Opus' },
    { codec: 'hevc', fourCc: 'hvc1', audio: 'aac', audioFourCc: 'mp4a' },
  ] as const;
  for (const c of cases) {
    await t.test(c.codec.toUpperCase(), async (t) => {
      const user = await registerUser(server, `${c.codec}viewer`);
      const { streamKey } = (await server.app.inject({ url: `/api/v1/channels/${c.codec}viewer/stream-key`, headers: { authorization: `Bearer ${user.accessToken}` } })).json();
      const tracks = readMp4Samples(await readFile(await encodeFragmentedMp4(dir, { codec: c.codec, audio: c.audio, seconds: 4 })));
      const publisher = publishRtmp(t, {
        port: server.ingest.port,
        key: streamKey,
        tags: buildTags(tracks.map((track) => ({ track })), { enhanced: true }),
        metadata: { width: 640, height: 360, framerate: 30, videocodecid: Buffer.from(c.fourCc).readUInt32BE(), audiocodecid: Buffer.from(c.audioFourCc).readUInt32BE() },
        seconds: 300,
      });
      await publisher.started;
      const playbackUrl: string = await until(async () => (await server.app.inject({ url: `/api/v1/channels/${c.codec}viewer` })).json().playbackUrl, 'the channel to go live', 45_000);
      const master = await (await fetch(base + playbackUrl)).text();
      const sourceCodecs = /CODECS="([^"]+)"[^\n]*\nsource\/index\.m3u8/.exec(master)?.[1] ?? '';
      t.match(sourceCodecs, c.codec === 'av1' ? /^av01\./ : /^hvc1\./, `the source is announced as ${sourceCodecs}`);

      const page = await browser.newPage();
      t.teardown(() => page.close());
      await page.goto(`${playerBase}/player.html?src=about:blank`).catch(() => {});
      const supported = await page.evaluate((type) => MediaSource.isTypeSupported(type), `video/mp4; codecs="${sourceCodecs.split(',')[0]}"`);
      t.comment(`this Chromium ${supported ? 'can' : 'cannot'} decode ${sourceCodecs.split(',')[0]} in MSE`);
      if (c.codec === 'av1') t.ok(supported, 'Chromium decodes AV1 (dav1d) in MSE');
      // AV1: the source rendition itself; HEVC: the master, so hls.js picks what it can decode
      const src = c.codec === 'av1' ? base + playbackUrl.replace(/master\.m3u8$/, 'source/index.m3u8') : base + playbackUrl;
      await page.goto(`${playerBase}/player.html?src=${encodeURIComponent(src)}`);
      await until(() => page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats.started || (window as unknown as { stats: PlayerStats }).stats.fatal !== null), 'playback to start', 45_000, 100);
      const startPosition = await page.evaluate(() => document.querySelector('video')!.currentTime);
      const watched = await page
        .waitForFunction(([from, s]) => document.querySelector('video')!.currentTime >= from + s, [startPosition, WATCH_S] as const, { timeout: WATCH_DEADLINE_MS, polling: 250 })
        .then(() => true, () => false);
      const stats = await page.evaluate(() => (window as unknown as { stats: PlayerStats }).stats);
      const level = await page.evaluate(() => {
        const hls = (window as unknown as { hls: { levels: Array<{ videoCodec?: string; height: number }>; currentLevel: number } }).hls;
        const current = hls.levels[hls.currentLevel];
        return current?.videoCodec ? `${current.videoCodec} ${current.height}p` : "the source media playlist";
      });
      t.equal(stats.fatal, null, 'no fatal player error');
      t.ok(watched, `${WATCH_S} s played (on ${level})`);
      t.equal(stats.stalls, 0, `no stall (errors seen: ${JSON.stringify(stats.errors)})`);
      if (c.codec === 'hevc' && !supported) t.match(level, /^avc1/, 'without HEVC support hls.js plays the H.264 rung');
      await publisher.stop();
    });
  }
});
