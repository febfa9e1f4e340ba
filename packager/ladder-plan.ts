// Decides a stream's renditions from what the publisher sends. The source rendition is always
// muxed natively from the publisher's own tracks (H.264, HEVC or AV1 video; AAC or Opus audio), so
// it costs no ffmpeg; the transcoded H.264 ladder below its height is made by one ffmpeg that reads
// the same stream on its stdin (FLV for H.264 and AAC, Matroska otherwise), so HEVC and AV1 publishes
// get rungs every browser plays.
import type { LiveConfig } from '../src/config.ts';
import { buildFfmpegArgs, estimateKbps, SOURCE_RENDITION, type RenditionOutput } from './ffmpeg-args.ts';
import type { LadderPlan, LiveSource } from './live-manager.ts';

export class UnsupportedSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedSourceError';
  }
}

// When the publisher sent no metadata: a common OBS canvas.
const FALLBACK = { width: 1280, height: 720, fps: 30 };
const NATIVE_VIDEO = new Set(['h264', 'hevc', 'av1']);
const NATIVE_AUDIO = new Set(['aac', 'opus']);

export function planLadder(live: LiveConfig, event: LiveSource): LadderPlan {
  const { video, audio } = event.media;
  if (!video && !audio) throw new UnsupportedSourceError('The stream has neither video nor audio.');
  if (video?.tracks && video.tracks.length > 0) return planMultitrack(video.tracks, video.fps, audio !== null);
  if (video && !NATIVE_VIDEO.has(video.codec)) {
    throw new UnsupportedSourceError(`Video codec ${video.codec.toUpperCase()} is not supported; set OBS to H.264, HEVC or AV1.`);
  }
  if (audio && !NATIVE_AUDIO.has(audio.codec)) {
    throw new UnsupportedSourceError(`Audio codec ${audio.codec.toUpperCase()} is not supported; set OBS to AAC or Opus.`);
  }
  const source = {
    width: video?.width ?? FALLBACK.width,
    height: video?.height ?? FALLBACK.height,
    fps: video?.fps && video.fps > 0 ? video.fps : FALLBACK.fps,
  };
  const sourceRendition = {
    name: SOURCE_RENDITION,
    width: video ? source.width : 0,
    height: video ? source.height : 0,
    frameRate: video ? source.fps : 0,
    bandwidth: Math.round(((video ? estimateKbps(source.width, source.height, source.fps) : 0) + (audio ? 128 : 0)) * 1000 * 1.1),
    passthrough: true,
  };
  const native = [{ name: SOURCE_RENDITION, videoTrack: video ? 0 : null, audioTrack: audio ? 0 : null }];
  const inputFormat = video?.codec === 'h264' && (!audio || audio.codec === 'aac') ? 'flv' : 'matroska';
  const build = () =>
    buildFfmpegArgs({
      inputUrl: 'pipe:0',
      inputIsH264Aac: false,
      nativeSource: { inputFormat },
      source,
      ladder: live.ladder.map((r) => ({ name: `${r.height}p`, height: r.height, videoBitrateKbps: r.videoBitrateKbps, audioBitrateKbps: r.height >= 720 ? 128 : 96 })),
      preset: live.x264Preset,
      segmentSeconds: live.segmentSeconds,
      partSeconds: live.partSeconds,
    });
  const rungs = video ? build().outputs : [];
  return {
    renditions: [sourceRendition, ...rungs.map(toRendition)],
    native,
    ladderInput: rungs.length > 0 ? { videoTrack: 0, audioTrack: audio ? 0 : null, format: inputFormat } : null,
    buildRun:
      rungs.length > 0
        ? () => {
            const { args, outputs } = build();
            return { args, outputs: outputs.map((x) => ({ name: x.name, fd: x.fd })) };
          }
        : null,
  };
}

/**
 * OBS multitrack ("Enhanced Broadcasting"): the encoder already sends a ladder, so each video track
 * is a rendition of its own, muxed natively with the shared audio, and nothing is transcoded. The
 * first track is the source; picture sizes come from each track's decoder configuration when it
 * arrives, and bandwidths from what the tracks actually carry.
 */
function planMultitrack(tracks: Array<{ id: number; codec: string }>, fps: number | null, hasAudio: boolean): LadderPlan {
  const refused = tracks.find((t) => !NATIVE_VIDEO.has(t.codec));
  if (refused) throw new UnsupportedSourceError(`Multitrack video track ${refused.id} uses ${refused.codec.toUpperCase()}; only H.264, HEVC and AV1 tracks can be packaged.`);
  const ordered = [...tracks].sort((a, b) => a.id - b.id);
  const frameRate = fps && fps > 0 ? fps : FALLBACK.fps;
  return {
    renditions: ordered.map((t, i) => ({ name: i === 0 ? SOURCE_RENDITION : `track${t.id}`, width: 0, height: 0, frameRate, bandwidth: 0, passthrough: true })),
    native: ordered.map((t, i) => ({ name: i === 0 ? SOURCE_RENDITION : `track${t.id}`, videoTrack: t.id, audioTrack: hasAudio ? 0 : null })),
    ladderInput: null,
    buildRun: null,
  };
}

function toRendition(o: RenditionOutput) {
  return {
    name: o.name,
    width: o.width,
    height: o.height,
    frameRate: o.frameRate,
    bandwidth: Math.round((o.videoBitrateKbps + o.audioBitrateKbps) * 1000 * 1.1),
    passthrough: o.passthrough,
  };
}
