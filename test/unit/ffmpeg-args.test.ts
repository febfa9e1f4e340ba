import t from 'tap';
import { buildFfmpegArgs, DEFAULT_LADDER, scaledWidth } from '../../packager/ffmpeg-args.ts';
import type { FfmpegArgsOptions } from '../../packager/ffmpeg-args.ts';

const INPUT = 'rtmp://127.0.0.1:1935/live/demo';
const FMP4 = (fd: number) => [
  '-f', 'mp4',
  '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf+frag_discont',
  '-frag_duration', '200000',
  '-avoid_negative_ts', 'make_non_negative',
  `pipe:${fd}`,
];
const X264 = (label: string, videoKbps: number, audioKbps: number, fd: number) => [
  '-map', label, '-map', '0:a:0?',
  '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
  '-b:v', `${videoKbps}k`, '-maxrate:v', `${videoKbps}k`, '-bufsize:v', `${videoKbps}k`,
  '-force_key_frames:v', 'expr:gte(t,n_forced*1)', '-forced-idr:v', '1',
  '-sc_threshold:v', '0', '-g:v', '60',
  '-c:a', 'aac', '-b:a', `${audioKbps}k`, '-ac', '2',
  ...FMP4(fd),
];

const hd = (over: Partial<FfmpegArgsOptions> = {}): FfmpegArgsOptions => ({
  inputUrl: INPUT,
  inputIsH264Aac: true,
  source: { width: 1920, height: 1080, fps: 30 },
  ...over,
});

const pipeFds = (args: string[]) => args.filter((a) => a.startsWith('pipe:') && a !== 'pipe:1').map((a) => Number(a.slice(5)));

t.test('golden: 1080p30 H.264/AAC with the default ladder', async (t) => {
  const { args, outputs } = buildFfmpegArgs(hd());
  t.strictSame(args, [
    '-nostdin', '-hide_banner', '-loglevel', 'warning',
    '-progress', 'pipe:1', '-stats_period', '1',
    '-i', INPUT,
    '-filter_complex',
    '[0:v:0]split=3[s0][s1][s2];' +
      '[s0]scale=-2:720,format=yuv420p[v0];' +
      '[s1]scale=-2:480,format=yuv420p[v1];' +
      '[s2]scale=-2:360,format=yuv420p[v2]',
    '-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy', '-c:a', 'copy', ...FMP4(3),
    ...X264('[v0]', 2800, 128, 4),
    ...X264('[v1]', 1400, 96, 5),
    ...X264('[v2]', 800, 96, 6),
  ]);
  t.strictSame(outputs, [
    { name: 'source', fd: 3, width: 1920, height: 1080, frameRate: 30, videoBitrateKbps: 6221, audioBitrateKbps: 128, passthrough: true },
    { name: '720p', fd: 4, width: 1280, height: 720, frameRate: 30, videoBitrateKbps: 2800, audioBitrateKbps: 128, passthrough: false },
    { name: '480p', fd: 5, width: 854, height: 480, frameRate: 30, videoBitrateKbps: 1400, audioBitrateKbps: 96, passthrough: false },
    { name: '360p', fd: 6, width: 640, height: 360, frameRate: 30, videoBitrateKbps: 800, audioBitrateKbps: 96, passthrough: false },
  ]);
});

t.test('a 480p source is never upscaled: only lower rungs are transcoded', async (t) => {
  const { args, outputs } = buildFfmpegArgs(hd({ source: { width: 854, height: 480, fps: 30 } }));
  t.strictSame(outputs.map((o) => o.name), ['source', '360p']);
  const filter = args[args.indexOf('-filter_complex') + 1] ?? '';
  t.equal(filter, '[0:v:0]split=1[s0];[s0]scale=-2:360,format=yuv420p[v0]');
  t.notMatch(filter, /scale=-2:(720|480)/);
});

t.test('no passthrough when the input is not H.264/AAC', async (t) => {
  const { args, outputs } = buildFfmpegArgs(hd({ inputIsH264Aac: false }));
  t.strictSame(outputs.map((o) => o.name), ['720p', '480p', '360p']);
  t.ok(outputs.every((o) => !o.passthrough));
  t.notOk(args.includes('copy'), 'nothing is stream-copied');
  t.equal(outputs[0]?.fd, 3, 'the first transcoded rendition takes pipe:3');
});

t.test('without passthrough a rung at the source height is kept, and a tiny source still gets one rendition', async (t) => {
  const sd = buildFfmpegArgs(hd({ inputIsH264Aac: false, source: { width: 854, height: 480, fps: 30 } }));
  t.strictSame(sd.outputs.map((o) => o.name), ['480p', '360p']);
  const tiny = buildFfmpegArgs(hd({ inputIsH264Aac: false, source: { width: 320, height: 240, fps: 30 } }));
  t.strictSame(tiny.outputs.map((o) => [o.name, o.width, o.height]), [['240p', 320, 240]]);
});

t.test('every output writes to its own pipe, numbered from 3 in output order', async (t) => {
  for (const opts of [hd(), hd({ inputIsH264Aac: false }), hd({ source: { width: 1280, height: 720, fps: 60 } })]) {
    const { args, outputs } = buildFfmpegArgs(opts);
    const fds = outputs.map((o) => o.fd);
    t.strictSame(fds, fds.map((_, i) => 3 + i));
    t.strictSame(pipeFds(args), fds, 'the argv names the same pipes in the same order');
    t.equal(new Set(fds).size, fds.length);
  }
});

t.test('frame rate is capped once, before the split; the passthrough keeps the source rate', async (t) => {
  const { args, outputs } = buildFfmpegArgs(hd({ source: { width: 1920, height: 1080, fps: 60 } }));
  t.match(args[args.indexOf('-filter_complex') + 1], /^\[0:v:0\]fps=30,split=3/);
  t.strictSame(outputs.map((o) => o.frameRate), [60, 30, 30, 30]);
  t.equal(args[args.indexOf('-g:v') + 1], '60', 'GOP cap is two segments at the capped rate');
});

t.test('segment and part durations drive the forced keyframes and the fragment length', async (t) => {
  const { args } = buildFfmpegArgs(hd({ segmentSeconds: 2, partSeconds: 0.5 }));
  t.ok(args.includes('expr:gte(t,n_forced*2)'));
  t.equal(args[args.indexOf('-frag_duration') + 1], '500000');
});

t.test('scaledWidth matches scale=-2:H', async (t) => {
  t.equal(scaledWidth(1920, 1080, 480), 854);
  t.equal(scaledWidth(1280, 720, 360), 640);
  t.equal(scaledWidth(1440, 1080, 720), 960);
});

t.test('options that would give a broken command are refused', async (t) => {
  const bad: Array<Partial<FfmpegArgsOptions>> = [
    { inputUrl: '' },
    { source: { width: 0, height: 1080, fps: 30 } },
    { source: { width: 1920, height: 1080, fps: 0 } },
    { partSeconds: 2, segmentSeconds: 1 },
    { ladder: [{ name: '719p', height: 719, videoBitrateKbps: 2000, audioBitrateKbps: 96 }] },
    { ladder: [DEFAULT_LADDER[0]!, DEFAULT_LADDER[0]!] },
    { ladder: [{ name: 'source', height: 720, videoBitrateKbps: 2000, audioBitrateKbps: 96 }] },
    { ladder: [{ name: '../x', height: 720, videoBitrateKbps: 2000, audioBitrateKbps: 96 }] },
  ];
  for (const over of bad) t.throws(() => buildFfmpegArgs(hd(over)), RangeError, JSON.stringify(over));
});
