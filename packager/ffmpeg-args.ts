// The ffmpeg command of one live stream, built as an argv array (never a shell string) by a pure
// function so a golden test can pin it. One process decodes the input once, splits the video into
// the ladder and writes each rendition as fragmented MP4 (CMAF) to its own pipe: pipe:3, pipe:4, …
// (extra stdio entries of spawn).
//
// Each rendition's pipe carries video AND audio muxed in one fMP4 (two tracks), so a rendition is
// one media playlist and the master playlist needs no EXT-X-MEDIA audio group. Fmp4Reader times
// parts on the video track.
//
// Keyframes: transcoded renditions get a forced IDR at every segment boundary by media time
// (`expr:gte(t,n_forced*SEG)`), and x264 is told not to add its own (scene cuts off, GOP cap of two
// segments as a backstop), so every transcoded rendition starts a segment on the same frame. The
// passthrough rendition keeps the publisher's keyframes.

export interface LadderRung {
  /** directory and playlist name, e.g. "720p" */
  name: string;
  /** output height in pixels (even); the width follows the source aspect ratio */
  height: number;
  videoBitrateKbps: number;
  audioBitrateKbps: number;
}

export const DEFAULT_LADDER: readonly LadderRung[] = [
  { name: '720p', height: 720, videoBitrateKbps: 2800, audioBitrateKbps: 128 },
  { name: '480p', height: 480, videoBitrateKbps: 1400, audioBitrateKbps: 96 },
  { name: '360p', height: 360, videoBitrateKbps: 800, audioBitrateKbps: 96 },
];

export interface SourceInfo {
  width: number;
  height: number;
  fps: number;
  /** from the publisher's metadata when known; only used to announce the passthrough rendition */
  videoBitrateKbps?: number;
  audioBitrateKbps?: number;
}

export interface FfmpegArgsOptions {
  /**
   * The published stream, e.g. rtmp://127.0.0.1/live/<channel>. The argv shows in the process
   * list, so this must name the stream by channel or session, never by stream key.
   */
  inputUrl: string;
  /** the input is H.264 video with AAC audio: a `source` rendition copies it untouched */
  inputIsH264Aac: boolean;
  /**
   * The source rendition is made outside ffmpeg (packager/native-source.ts): ffmpeg makes only the
   * rungs below the source height, and reads its input in this format (`-f`), e.g. fMP4 on stdin.
   */
  nativeSource?: { inputFormat: string };
  source: SourceInfo;
  ladder?: readonly LadderRung[];
  /** x264 preset */
  preset?: string;
  segmentSeconds?: number;
  partSeconds?: number;
  /** transcoded renditions never exceed this frame rate; the passthrough keeps the source's */
  maxFps?: number;
}

export interface RenditionOutput {
  name: string;
  /** the child's stdio index ffmpeg writes this rendition to (`pipe:<fd>`) */
  fd: number;
  width: number;
  height: number;
  frameRate: number;
  /** nominal rates for the master playlist until measured ones exist */
  videoBitrateKbps: number;
  audioBitrateKbps: number;
  passthrough: boolean;
}

export const SOURCE_RENDITION = 'source';
const FIRST_FD = 3;
const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * stdout carries `-progress` key=value blocks once a second (frame, fps, speed…): the caller must
 * read it or give it `ignore`, or ffmpeg stalls once the pipe fills. Warnings go to stderr.
 */
export function buildFfmpegArgs(opts: FfmpegArgsOptions): { args: string[]; outputs: RenditionOutput[] } {
  const ladder = opts.ladder ?? DEFAULT_LADDER;
  const preset = opts.preset ?? 'veryfast';
  const segmentSeconds = opts.segmentSeconds ?? 1;
  const partSeconds = opts.partSeconds ?? 0.2;
  const maxFps = opts.maxFps ?? 30;
  const { source } = opts;
  validate(opts, ladder, segmentSeconds, partSeconds, maxFps);

  const outputs: RenditionOutput[] = [];
  const outputArgs: string[] = [];
  // frag_keyframe + frag_duration: a fragment (one part) every partSeconds and at every keyframe.
  // With empty_moov alone ffmpeg 5.1 restarts each track's tfdt at 0 whatever its first timestamp,
  // so a copied input whose audio starts before the first keyframe plays out of sync; frag_discont
  // keeps the real timestamps in tfdt and make_non_negative keeps them >= 0 (AAC priming is -1024),
  // shifting every track by the same amount.
  const fmp4 = [
    '-f', 'mp4',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf+frag_discont',
    '-frag_duration', String(Math.round(partSeconds * 1_000_000)),
    '-avoid_negative_ts', 'make_non_negative',
  ];

  if (opts.inputIsH264Aac && !opts.nativeSource) {
    const fd = FIRST_FD + outputs.length;
    outputs.push({
      name: SOURCE_RENDITION,
      fd,
      width: source.width,
      height: source.height,
      frameRate: source.fps,
      videoBitrateKbps: source.videoBitrateKbps ?? estimateKbps(source.width, source.height, source.fps),
      audioBitrateKbps: source.audioBitrateKbps ?? 128,
      passthrough: true,
    });
    outputArgs.push('-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy', '-c:a', 'copy', ...fmp4, `pipe:${fd}`);
  }

  const rungs = pickRungs(ladder, source.height, opts.inputIsH264Aac || opts.nativeSource !== undefined);
  const frameRate = Math.min(source.fps, maxFps);
  const gop = Math.ceil(frameRate * segmentSeconds);
  const filters: string[] = [];
  if (rungs.length > 0) {
    // fps before split: the frame rate is capped once for every rung
    const fpsFilter = source.fps > maxFps ? `fps=${maxFps},` : '';
    filters.push(`[0:v:0]${fpsFilter}split=${rungs.length}${rungs.map((_, i) => `[s${i}]`).join('')}`);
  }
  rungs.forEach((rung, i) => {
    // format after scale: one swscale pass, and browsers only decode 4:2:0 8-bit H.264
    filters.push(`[s${i}]scale=-2:${rung.height},format=yuv420p[v${i}]`);
    const fd = FIRST_FD + outputs.length;
    outputs.push({
      name: rung.name,
      fd,
      width: scaledWidth(source.width, source.height, rung.height),
      height: rung.height,
      frameRate,
      videoBitrateKbps: rung.videoBitrateKbps,
      audioBitrateKbps: rung.audioBitrateKbps,
      passthrough: false,
    });
    const kbps = `${rung.videoBitrateKbps}k`;
    outputArgs.push(
      '-map', `[v${i}]`, '-map', '0:a:0?',
      // zerolatency: no lookahead, no B-frames, so a frame leaves the encoder as soon as it enters
      '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency',
      // a one-second VBV keeps each segment near the announced bandwidth
      '-b:v', kbps, '-maxrate:v', kbps, '-bufsize:v', kbps,
      '-force_key_frames:v', `expr:gte(t,n_forced*${segmentSeconds})`, '-forced-idr:v', '1',
      '-sc_threshold:v', '0', '-g:v', String(gop * 2),
      '-c:a', 'aac', '-b:a', `${rung.audioBitrateKbps}k`, '-ac', '2',
      ...fmp4, `pipe:${fd}`,
    );
  });

  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'warning',
    '-progress', 'pipe:1', '-stats_period', '1',
    // no `-fflags nobuffer`: ffmpeg 5.1 then drops the packets read while probing, so each track
    // starts late by a different amount and audio and video drift apart by up to ~1 s
    ...(opts.nativeSource ? NATIVE_INPUT(opts.nativeSource.inputFormat) : []),
    '-i', opts.inputUrl,
    ...(filters.length > 0 ? ['-filter_complex', filters.join(';')] : []),
    ...outputArgs,
  ];
  return { args, outputs };
}

/**
 * Never upscale. With a passthrough the source itself is the top rendition, so rungs at or above its
 * height are dropped; without one, a rung at the source height is kept, and when every rung is
 * taller than the source the lowest one is encoded at the source height so there is something to watch.
 */
function pickRungs(ladder: readonly LadderRung[], sourceHeight: number, passthrough: boolean): LadderRung[] {
  const rungs = [...ladder]
    .filter((r) => (passthrough ? r.height < sourceHeight : r.height <= sourceHeight))
    .sort((a, b) => b.height - a.height);
  if (rungs.length > 0 || passthrough) return rungs;
  const lowest = [...ladder].sort((a, b) => a.height - b.height)[0];
  if (lowest === undefined) return [];
  const height = sourceHeight - (sourceHeight % 2);
  return [{ ...lowest, name: `${height}p`, height }];
}

/** The width ffmpeg's `scale=-2:H` picks: the source aspect ratio, rounded to an even number. */
export function scaledWidth(sourceWidth: number, sourceHeight: number, height: number): number {
  return Math.round((height * sourceWidth) / (sourceHeight * 2)) * 2;
}

/**
 * The native feed is fMP4 whose init section names every stream and its decoder configuration, so
 * there is little to analyse: no 5 s of analysis. Not `-fflags nobuffer` (ffmpeg 5.1 then drops
 * the packets read while probing: the first keyframe is lost and dav1d fails every AV1 frame up to
 * the next) and not a tiny -probesize (Opus timestamps then come out non-monotonic).
 */
const NATIVE_INPUT = (format: string) => ['-analyzeduration', '0', '-f', format];

/** ~0.1 bit per pixel: what H.264 from OBS at a sensible setting tends to use. */
export function estimateKbps(width: number, height: number, fps: number): number {
  return Math.round((width * height * fps * 0.1) / 1000);
}

function validate(
  opts: FfmpegArgsOptions,
  ladder: readonly LadderRung[],
  segmentSeconds: number,
  partSeconds: number,
  maxFps: number,
): void {
  const { width, height, fps } = opts.source;
  if (opts.inputUrl === '') throw new RangeError('inputUrl is empty');
  for (const [name, value] of [['source.width', width], ['source.height', height]] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  if (!(fps > 0) || !(maxFps > 0)) throw new RangeError('frame rates must be positive');
  if (!(partSeconds > 0) || !(segmentSeconds >= partSeconds)) {
    throw new RangeError(`need 0 < partSeconds <= segmentSeconds, got ${partSeconds} and ${segmentSeconds}`);
  }
  if (!opts.inputIsH264Aac && !opts.nativeSource && ladder.length === 0) throw new RangeError('an empty ladder needs a passthrough input');
  const names = new Set<string>(opts.inputIsH264Aac || opts.nativeSource ? [SOURCE_RENDITION] : []);
  for (const rung of ladder) {
    if (!NAME.test(rung.name) || names.has(rung.name)) throw new RangeError(`rendition name ${JSON.stringify(rung.name)} is invalid or taken`);
    names.add(rung.name);
    // libx264 with 4:2:0 needs even dimensions
    if (!Number.isInteger(rung.height) || rung.height <= 0 || rung.height % 2 !== 0) {
      throw new RangeError(`rendition ${rung.name}: height must be a positive even integer`);
    }
    if (!(rung.videoBitrateKbps > 0) || !(rung.audioBitrateKbps > 0)) throw new RangeError(`rendition ${rung.name}: bitrates must be positive`);
  }
}
