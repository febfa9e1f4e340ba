import t from 'tap';
import { renderMasterPlaylist, renderVodMediaPlaylist } from '../../packager/master-playlist.ts';
import type { Rendition } from '../../packager/master-playlist.ts';
import { parseMediaPlaylist, validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';

const ladder: Rendition[] = [
  { name: '360p', uri: '360p/index.m3u8', bandwidth: 900_000, averageBandwidth: 750_000, width: 640, height: 360, frameRate: 30, codecs: 'avc1.64001e,mp4a.40.2' },
  { name: 'source', uri: 'source/index.m3u8', bandwidth: 6_200_000.4, averageBandwidth: 5_000_000, width: 1920, height: 1080, frameRate: 30000 / 1001, codecs: 'avc1.640028,mp4a.40.2' },
  { name: '720p', uri: '720p/index.m3u8', bandwidth: 3_000_000, averageBandwidth: 2_500_000, width: 1280, height: 720, frameRate: 60, codecs: 'avc1.64001f,mp4a.40.2' },
];

t.test('golden: highest variant first, every attribute a player selects on', async (t) => {
  const text = renderMasterPlaylist(ladder);
  t.equal(text, `#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=6200001,AVERAGE-BANDWIDTH=5000000,RESOLUTION=1920x1080,FRAME-RATE=29.970,CODECS="avc1.640028,mp4a.40.2"
source/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,FRAME-RATE=60.000,CODECS="avc1.64001f,mp4a.40.2"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=750000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.64001e,mp4a.40.2"
360p/index.m3u8
`);
  t.same(validateMasterPlaylist(text), []);
});

t.test('a single rendition, and none at all', async (t) => {
  t.same(validateMasterPlaylist(renderMasterPlaylist([ladder[0]!])), []);
  t.throws(() => renderMasterPlaylist([]), RangeError);
});

t.test('equal bandwidths keep a stable order', async (t) => {
  const twins = [{ ...ladder[0]!, name: 'b', uri: 'b.m3u8' }, { ...ladder[0]!, name: 'a', uri: 'a.m3u8' }];
  t.match(renderMasterPlaylist(twins), /a\.m3u8\n[^\n]+\nb\.m3u8\n$/);
});

t.test('golden: a recording with a restart in the middle', async (t) => {
  const text = renderVodMediaPlaylist(
    [
      { uri: 's0.m4s', duration: 2, discontinuity: false },
      { uri: 's1.m4s', duration: 1.46667, discontinuity: false },
      { uri: 's2.m4s', duration: 2.002, discontinuity: true, mapUri: 'init-2.mp4' },
      { uri: 's3.m4s', duration: 2, discontinuity: false, mapUri: 'init-2.mp4' },
    ],
    { mapUri: 'init.mp4', targetDuration: 2 },
  );
  t.equal(text, `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.0,
s0.m4s
#EXTINF:1.46667,
s1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-2.mp4"
#EXTINF:2.002,
s2.m4s
#EXTINF:2.0,
s3.m4s
#EXT-X-ENDLIST
`);
  t.same(validateMediaPlaylist(text), []);
  const parsed = parseMediaPlaylist(text);
  t.ok(parsed.ended);
  t.same(parsed.segments.map((s) => [s.discontinuity, s.mapUri]), [[false, 'init.mp4'], [false, 'init.mp4'], [true, 'init-2.mp4'], [false, 'init-2.mp4']]);
});

t.test('a recording without segments still parses', async (t) => {
  const text = renderVodMediaPlaylist([], { mapUri: 'init.mp4', targetDuration: 1 });
  t.same(validateMediaPlaylist(text), []);
  t.equal(parseMediaPlaylist(text).segments.length, 0);
});
