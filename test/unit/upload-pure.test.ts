// The pure parts of uploads: tus metadata, what ffprobe says and which files are refused, the
// transcoding command, and reading ffmpeg's playlists back.
import t from 'tap';
import { parseProbe, refuseMedia, displaySize, type ProbedMedia } from '../../vod/media-probe.ts';
import { buildTranscodeArgs, planUploadLadder } from '../../vod/transcode-args.ts';
import { parseUploadMetadata } from '../../vod/upload-metadata.ts';
import { readHlsSegments } from '../../vod/upload-publish.ts';
import { progressSeconds } from '../../vod/transcode-run.ts';
import { ffprobePathFor } from '../../vod/transcode-job.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const LADDER = [
  { height: 720, videoBitrateKbps: 2800 },
  { height: 480, videoBitrateKbps: 1400 },
  { height: 360, videoBitrateKbps: 800 },
];

t.test('Upload-Metadata', async (t) => {
  t.same(parseUploadMetadata(`filename ${b64('holiday.mp4')},title ${b64('  My  holiday\n')},visibility ${b64('unlisted')}`), {
    filename: 'holiday.mp4',
    title: 'My holiday',
    description: '',
    visibility: 'unlisted',
  });
  t.equal((parseUploadMetadata(`filename ${b64('Cats & dogs.mov')}`) as { title: string }).title, 'Cats & dogs', 'title defaults to the file name without extension');
  t.equal((parseUploadMetadata(`filename ${b64('a.mp4')},description ${b64('line 1\nline 2\u202E')}`) as { description: string }).description, 'line 1\nline 2', 'descriptions keep lines, lose bidi overrides');
  t.match(parseUploadMetadata(undefined), { error: /filename/ });
  t.match(parseUploadMetadata(`filename ${b64('a.mp4')},visibility ${b64('secret')}`), { error: /visibility/ });
  t.match(parseUploadMetadata(`filename ${b64('a.mp4')},title ${b64('x'.repeat(141))}`), { error: /140/ });
  t.match(parseUploadMetadata(`filename ${b64('a.mp4')},filename ${b64('b.mp4')}`), { error: /malformed/ });
  t.match(parseUploadMetadata(`filename !!!`), { error: /malformed/ });
  t.match(parseUploadMetadata(`filename ${Buffer.from([0xff, 0xfe]).toString('base64')}`), { error: /UTF-8/ });
  t.match(parseUploadMetadata('x'.repeat(9000)), { error: /too long/ });
});

const video = (over: Partial<NonNullable<ProbedMedia['video']>> = {}): ProbedMedia => ({
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationS: 30,
  video: { codec: 'h264', width: 1920, height: 1080, fps: 30, rotation: 0, ...over },
  audio: { codec: 'aac', channels: 2 },
});

t.test('ffprobe output and refusals', async (t) => {
  const probed = parseProbe(
    JSON.stringify({
      format: { format_name: 'mov,mp4', duration: '12.5' },
      streams: [
        { codec_type: 'video', codec_name: 'hevc', width: 1080, height: 1920, avg_frame_rate: '30000/1001', side_data_list: [{ rotation: -90 }] },
        { codec_type: 'audio', codec_name: 'opus', channels: 2 },
      ],
    }),
  );
  t.equal(probed.durationS, 12.5);
  t.equal(probed.video?.codec, 'hevc');
  t.equal(Math.round(probed.video!.fps * 100) / 100, 29.97);
  t.equal(probed.video?.rotation, 270, 'rotation normalised to 0–359');
  t.same(displaySize(probed.video!), { width: 1920, height: 1080 }, 'a rotated phone video is shown turned');
  const coverArt = parseProbe(JSON.stringify({ format: { duration: '200' }, streams: [{ codec_type: 'audio', codec_name: 'mp3' }, { codec_type: 'video', codec_name: 'mjpeg', width: 500, height: 500 }] }));
  t.equal(coverArt.video, null, 'an MP3 with cover art has no video');

  const limits = { maxDurationS: 3600 };
  t.equal(refuseMedia(video(), limits), null);
  t.match(refuseMedia({ ...video(), video: null }, limits), /no picture/);
  t.match(refuseMedia({ ...video(), video: null, audio: null }, limits), /no video/);
  t.match(refuseMedia(video({ width: 16000, height: 9000 }), limits), /16000×9000.*7680/);
  t.match(refuseMedia(video({ width: 8, height: 8 }), limits), /too small/);
  t.match(refuseMedia({ ...video(), durationS: 0 }, limits), /no length/);
  t.match(refuseMedia({ ...video(), durationS: 7300 }, limits), /2 h 1 min long.*1 h 0 min/);
});

t.test('upload ladder: the source height on top (at most 1080), rungs below, never upscaled', async (t) => {
  t.same(planUploadLadder(1080, LADDER).map((r) => [r.name, r.videoBitrateKbps]), [['1080p', 5000], ['720p', 2800], ['480p', 1400], ['360p', 800]]);
  t.same(planUploadLadder(2160, LADDER).map((r) => r.name), ['1080p', '720p', '480p', '360p']);
  t.same(planUploadLadder(720, LADDER).map((r) => [r.name, r.videoBitrateKbps]), [['720p', 2800], ['480p', 1400], ['360p', 800]], 'a rung at the source height keeps its rate');
  t.same(planUploadLadder(241, LADDER).map((r) => r.name), ['240p'], 'smaller than every rung: its own (even) height only');
});

t.test('transcode command: one decode, aligned keyframes, loudnorm, HLS fMP4 in the recordings layout, tiles', async (t) => {
  const { args, renditions } = buildTranscodeArgs({ input: '/w/source', outDir: '/w/out', source: { width: 1920, height: 1080, fps: 30 }, hasAudio: true, ladder: LADDER, preset: 'veryfast' });
  t.equal(args.filter((a) => a === '-i').length, 1, 'one input');
  const graph = args[args.indexOf('-filter_complex') + 1]!;
  t.match(graph, /^\[0:v:0\]split=5\[s0\]\[s1\]\[s2\]\[s3\]\[st\]/, 'one decode split into four renditions and the tiles');
  t.match(graph, /\[0:a:0\]loudnorm=I=-16:TP=-1\.5:LRA=11,aresample=48000,asplit=4/, 'EBU R128 loudness once, for every rendition');
  t.match(graph, /\[st\]fps=1\/2,scale=160:90/);
  t.same(renditions.map((r) => [r.name, r.width, r.height]), [['1080p', 1920, 1080], ['720p', 1280, 720], ['480p', 854, 480], ['360p', 640, 360]]);
  t.equal(args.filter((a) => a === 'expr:gte(t,n_forced*2)').length, 4, 'every rendition forces keyframes at the same media times');
  t.equal(args.filter((a) => a === 'fmp4').length, 4);
  t.ok(args.includes('/w/out/720p/seg-%d.m4s') && args.includes('/w/out/720p/ffmpeg.m3u8'));
  t.ok(args.includes('/w/out/.tiles/seg-%d.jpg'));
  t.ok(args.includes('init-0.mp4'));
  t.ok(args.includes('pipe:1') && args.includes('-progress'), 'progress on stdout');

  const silent = buildTranscodeArgs({ input: 'in', outDir: 'o', source: { width: 640, height: 360, fps: 120 }, hasAudio: false, ladder: LADDER, preset: 'ultrafast' });
  t.notOk(silent.args.some((a) => a.includes('loudnorm')) || silent.args.includes('-c:a'), 'no audio, no audio options');
  t.match(silent.args[silent.args.indexOf('-filter_complex') + 1]!, /^\[0:v:0\]fps=60,split=2/, 'frame rate capped at 60');
  t.same(silent.renditions.map((r) => r.name), ['360p']);
});

t.test('ffmpeg playlists and progress read back', async (t) => {
  t.same(readHlsSegments('#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:4.000000,\nseg-0.m4s\n#EXTINF:2.033,\nseg-1.m4s\n#EXT-X-ENDLIST\n'), [
    { uri: 'seg-0.m4s', duration: 4 },
    { uri: 'seg-1.m4s', duration: 2.033 },
  ]);
  t.equal(progressSeconds('out_time_us=12500000'), 12.5);
  t.equal(progressSeconds('out_time=00:00:12.5'), null);
  t.equal(ffprobePathFor('/usr/bin/ffmpeg'), '/usr/bin/ffprobe');
  t.equal(ffprobePathFor('ffmpeg'), 'ffprobe');
});
