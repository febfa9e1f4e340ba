// Decides a stream's renditions from what the publisher sends: H.264 + AAC gets a passthrough
// rendition plus the transcoded ladder below its height; anything else only the transcoded ladder.
// Debian's ffmpeg 5.1 cannot demux Enhanced RTMP (HEVC, AV1 in FLV), so such streams are refused.
import type { LiveConfig } from '../src/config.ts';
import { buildFfmpegArgs, type RenditionOutput } from './ffmpeg-args.ts';
import type { LadderPlan, LiveSource } from './live-manager.ts';

export class UnsupportedSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedSourceError';
  }
}

// When the publisher sent no metadata: a common OBS canvas.
const FALLBACK = { width: 1280, height: 720, fps: 30 };
const DECODABLE_VIDEO = new Set(['h264']);

export function planLadder(live: LiveConfig, event: LiveSource): LadderPlan {
  const video = event.media.video;
  if (!video) throw new UnsupportedSourceError('The stream has no video track.');
  if (!DECODABLE_VIDEO.has(video.codec)) {
    throw new UnsupportedSourceError(`Video codec ${video.codec.toUpperCase()} is not supported; set OBS to H.264 (x264 or a hardware H.264 encoder).`);
  }
  const passthrough = event.media.audio === null || event.media.audio.codec === 'aac';
  const source = {
    width: video.width ?? FALLBACK.width,
    height: video.height ?? FALLBACK.height,
    fps: video.fps && video.fps > 0 ? video.fps : FALLBACK.fps,
  };
  const build = (inputUrl: string) =>
    buildFfmpegArgs({
      inputUrl,
      inputIsH264Aac: passthrough,
      source,
      ladder: live.ladder.map((r) => ({ name: `${r.height}p`, height: r.height, videoBitrateKbps: r.videoBitrateKbps, audioBitrateKbps: r.height >= 720 ? 128 : 96 })),
      preset: live.x264Preset,
      segmentSeconds: live.segmentSeconds,
      partSeconds: live.partSeconds,
    });
  const { outputs } = build('rtmp://127.0.0.1/placeholder');
  if (outputs.length === 0) throw new UnsupportedSourceError('No rendition can be made from this stream.');
  return {
    renditions: outputs.map(toRendition),
    buildRun: (inputUrl) => {
      const { args, outputs: o } = build(inputUrl);
      return { args, outputs: o.map((x) => ({ name: x.name, fd: x.fd })) };
    },
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
