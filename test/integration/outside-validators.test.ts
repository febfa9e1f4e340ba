// Playlists as a running server serves them (ffmpeg publishing over real RTMP, a transcoded rendition
// beside the source) and the VOD it finalises when the stream ends, read by hls-parser in strict mode and
// video.js's m3u8-parser beside our own validator.
import t, { type Test } from 'tap';
import { parseMediaPlaylist, validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';
import { until } from '../helpers/media.ts';
import {
  hlsParserMedia, hlsParserProblems, hlsParserVariants, m3u8ParserMedia, m3u8ParserVariants, m3u8ParserWarnings, ourMediaReading,
} from '../helpers/outside-validators.ts';
import { publish } from '../helpers/publisher.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';
import { renditionNow } from '../helpers/live-view.ts';

/** All three validators accept the media playlist and read it alike. */
function accepted(t: Test, name: string, text: string, opts: { lowLatency: boolean; previous?: string }): void {
  t.same(validateMediaPlaylist(text, opts), [], `${name}: our validator`);
  const hls = hlsParserMedia(text);
  const m3u8 = m3u8ParserMedia(text);
  t.same(hls.problems, [], `${name}: hls-parser (strict)`);
  t.same(m3u8.warnings, [], `${name}: m3u8-parser`);
  const ours = ourMediaReading(text);
  t.same(hls.reading, ours, `${name}: hls-parser reads it as we do`);
  t.same(m3u8.reading, ours, `${name}: m3u8-parser reads it as we do`);
}

function acceptedMaster(t: Test, name: string, text: string): void {
  t.same(validateMasterPlaylist(text), [], `${name}: our validator`);
  t.same(hlsParserProblems(text), [], `${name}: hls-parser (strict)`);
  t.same(m3u8ParserWarnings(text), [], `${name}: m3u8-parser`);
  t.same(hlsParserVariants(text), m3u8ParserVariants(text), `${name}: both read the same variants`);
}

t.test('live and VOD playlists from a running server', async (t) => {
  const server = await startTestServer(t, { LADDER: '240:400', LIVE_GRACE_S: '0' });
  const base = await server.listen();
  const alice = await registerUser(server, 'alice');
  const { streamKey } = (await server.app.inject({ url: '/api/v1/channels/alice/stream-key', headers: { authorization: `Bearer ${alice.accessToken}` } })).json();
  // A 2 s keyframe interval: the source rendition is passed through at TARGETDURATION 2, 240p is transcoded at 1.
  const publisher = publish(t, `rtmp://127.0.0.1:${server.ingest.port}/live/${streamKey}`, { seconds: 300 });
  const session = await until(() => server.live.live()[0], 'the stream to go live', 20_000);
  // Long enough that old segments have lost their parts and a delta update skips some (12 s at TARGETDURATION 2).
  await until(() => (renditionNow(session, 'source')?.segmentCount ?? 0) >= 9, 'nine source segments', 60_000);
  const live = (await server.app.inject({ url: '/api/v1/channels/alice' })).json();
  const master = `${base}${live.playbackUrl}`;

  t.test('the live master playlist', async (t) => {
    acceptedMaster(t, 'live master', await (await fetch(master)).text());
  });

  for (const name of ['source', '240p']) {
    t.test(`${name}: playlists answered by blocking reload, full and delta`, async (t) => {
      const url = master.replace(/master\.m3u8$/, `${name}/index.m3u8`);
      let text = await (await fetch(url)).text();
      // Each request asks for the part after the newest one, so it is answered the moment that part is
      // listed: the playlist a low-latency player loads, part after part across a segment boundary.
      for (let i = 0; i < 12; i++) {
        const { msn, part } = parseMediaPlaylist(text).lastPart!;
        const next = `_HLS_msn=${msn}&_HLS_part=${part + 1}`;
        const [fullRes, deltaRes] = await Promise.all([fetch(`${url}?${next}`), fetch(`${url}?${next}&_HLS_skip=YES`)]);
        t.equal(fullRes.status, 200);
        const previous = text;
        text = await fullRes.text();
        const delta = await deltaRes.text();
        accepted(t, `${name} ${next}`, text, { lowLatency: true, previous });
        accepted(t, `${name} ${next} delta`, delta, { lowLatency: true, previous });
        t.match(delta, /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+/, 'the delta update skips the oldest segments');
      }
      const parsed = parseMediaPlaylist(text);
      t.ok(parsed.segments[0]!.parts.length === 0, 'the oldest segments are listed without their parts');
      t.ok(parsed.segments.at(-1)!.parts.length > 0, 'the newest complete segment keeps its parts');
    });
  }

  t.test('the VOD the finaliser writes when the stream ends', async (t) => {
    await publisher.stop();
    const vod = await until(async () => {
      const row = await server.database.db.selectFrom('vods').select(['id', 'status']).where('live_session_id', '=', session.id).executeTakeFirst();
      return row && (row.status === 'ready' || row.status === 'failed') ? row : null;
    }, 'the VOD to be ready', 90_000);
    t.equal(vod.status, 'ready');
    acceptedMaster(t, 'VOD master', await (await fetch(`${base}/vod/${vod.id}/master.m3u8`)).text());
    for (const name of ['source', '240p']) {
      const text = await (await fetch(`${base}/vod/${vod.id}/${name}/index.m3u8`)).text();
      t.match(text, /#EXT-X-PLAYLIST-TYPE:VOD/);
      accepted(t, `${name} VOD`, text, { lowLatency: false });
    }
  });
});
