// A publish's audio/video messages → CMAF for the packager, with no ffmpeg: each native rendition
// (the source, or each track of an Enhanced RTMP multitrack publish) gets its own CmafMuxer, and
// the ladder's ffmpeg, when there is one, is fed the same stream on its stdin: as FLV for H.264 and
// AAC (flv-feed.ts), as live Matroska for HEVC, AV1 and Opus (mkv-feed.ts).
//
// Bad input never throws out of here: a tag that cannot be parsed or a configuration that cannot be
// read is counted and logged (once per kind, then every 100th), and the stream goes on. Timestamps
// that jump (backwards by more than 2 s, forwards by more than 5 s, the 32-bit rollover) are rebased
// so the output timeline stays continuous.
import type { Logger } from '../src/log.ts';
import { CmafMuxer, type MuxerEvent, type MuxerFragment, type MuxerInit } from './cmaf-muxer.ts';
import { CodecConfigError, parseAudioConfig, parseVideoConfig, type AudioConfig, type VideoConfig } from './codec-config.ts';
import { FlvFeed } from './flv-feed.ts';
import { MkvFeed } from './mkv-feed.ts';
import { FlvTagError, parseAudioTag, parseVideoTag, type MediaPacket } from './flv-tags.ts';

/** One RTMP audio/video message, as the ingest hands it over. */
export interface SourceTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

export interface NativeOutput {
  name: string;
  /** Enhanced RTMP track id (0 for a single-track publish); null: no video */
  videoTrack: number | null;
  audioTrack: number | null;
}

export interface NativeSink {
  onInit(rendition: string, init: MuxerInit): void;
  onFragment(rendition: string, fragment: MuxerFragment): void;
}

export interface LadderInput {
  videoTrack: number;
  audioTrack: number | null;
  /** what ffmpeg reads on stdin: `flv` (H.264 and AAC only) or `matroska` (any codec) */
  format: 'flv' | 'matroska';
  /** false when the consumer is too far behind: the feed then skips to the next keyframe */
  write(data: Buffer): boolean;
  /**
   * The publisher changed a decoder configuration that a Matroska feed cannot carry on (its tracks
   * are fixed for the Segment). The feed stops; the caller starts ffmpeg again.
   */
  onNewConfiguration?: () => void;
}

export interface NativeSourceOptions {
  outputs: NativeOutput[];
  partTarget: number;
  sink: NativeSink;
  log: Logger;
}

/** What writes the ladder's input: the bytes of each call go to ffmpeg's stdin in order. */
interface LadderWriter {
  readonly configs: { video: VideoConfig | null; audio: AudioConfig | null };
  setVideoConfig(config: VideoConfig): Array<{ data: Buffer }>;
  setAudioConfig(config: AudioConfig): Array<{ data: Buffer }>;
  pushVideo(dtsMs: number, compositionOffsetMs: number, keyframe: boolean, data: Buffer): Array<{ data: Buffer }>;
  pushAudio(dtsMs: number, data: Buffer): Array<{ data: Buffer }>;
  resync(): void;
}

const BACKWARDS_MS = 2000;
const FORWARDS_MS = 5000;
/** where the timeline resumes after a jump: about one frame after the newest timestamp */
const JUMP_STEP_MS = 33;
const MAX_PROBLEM_KINDS = 50;

export class NativeSource {
  private readonly muxers = new Map<string, { output: NativeOutput; muxer: CmafMuxer }>();
  private ladder: { input: LadderInput; muxer: LadderWriter } | null = null;
  private offset = 0;
  private newest: number | null = null;
  private readonly problems = new Map<string, number>();

  constructor(private readonly opts: NativeSourceOptions) {
    for (const output of opts.outputs) {
      const muxer = new CmafMuxer({ partTarget: opts.partTarget, expectVideo: output.videoTrack !== null, expectAudio: output.audioTrack !== null });
      this.muxers.set(output.name, { output, muxer });
    }
  }

  /** (Re)starts the ladder's input: a fresh init section, from the next keyframe. */
  feedLadder(input: LadderInput | null): void {
    if (!input) {
      this.ladder = null;
      return;
    }
    const source = [...this.muxers.values()].find((m) => m.output.videoTrack === input.videoTrack)?.muxer.configs;
    if (input.format === 'flv' && ((source?.video && source.video.codec !== 'avc1') || (source?.audio && input.audioTrack !== null && source.audio.codec !== 'mp4a'))) {
      this.ladder = null;
      return this.problem('the stream is no longer H.264 and AAC: the ladder, planned for them, is not fed');
    }
    const muxer: LadderWriter = input.format === 'flv' ? new FlvFeed(input.audioTrack !== null) : new MkvFeed(input.audioTrack !== null);
    if (source?.video) muxer.setVideoConfig(source.video);
    if (source?.audio && input.audioTrack !== null) muxer.setAudioConfig(source.audio);
    this.ladder = { input, muxer };
  }

  push(tag: SourceTag): void {
    let packets: MediaPacket[];
    try {
      packets = tag.type === 9 ? parseVideoTag(tag.data, tag.timestamp) : tag.type === 8 ? parseAudioTag(tag.data, tag.timestamp) : [];
    } catch (err) {
      if (!(err instanceof FlvTagError)) throw err;
      return this.problem(err.message);
    }
    const timestamp = this.rebase(tag.timestamp);
    for (const packet of packets) {
      if (packet.type === 'ignored') continue;
      try {
        this.route(packet, timestamp);
      } catch (err) {
        if (!(err instanceof CodecConfigError)) throw err;
        this.problem(err.message);
      }
    }
  }

  /** The publisher is gone: what is pending becomes the last fragment of each rendition. */
  end(): void {
    for (const { output, muxer } of this.muxers.values()) this.deliver(output.name, muxer.flush());
    this.ladder = null;
  }

  get stats(): Record<string, { droppedVideo: number; droppedAudio: number; inits: number; fragments: number }> {
    return Object.fromEntries([...this.muxers].map(([name, m]) => [name, m.muxer.stats]));
  }

  private route(packet: Exclude<MediaPacket, { type: 'ignored' }>, timestamp: number): void {
    const targets = [...this.muxers.values()].filter(({ output }) => (packet.kind === 'video' ? output.videoTrack : output.audioTrack) === packet.track);
    const ladder = this.ladder && (packet.kind === 'video' ? this.ladder.input.videoTrack : this.ladder.input.audioTrack) === packet.track ? this.ladder : null;
    if (targets.length === 0 && !ladder) return this.problem(`${packet.kind} track ${packet.track} is not part of this stream's renditions`);
    if (packet.type === 'config') {
      if (packet.kind === 'video') {
        const config = parseVideoConfig(packet.codec, packet.data);
        for (const { output, muxer } of targets) this.deliver(output.name, muxer.setVideoConfig(config));
        if (ladder && this.ladderKeeps(ladder, 'video', config)) this.toLadder(ladder.muxer.setVideoConfig(config));
      } else {
        const config = parseAudioConfig(packet.codec, packet.data);
        for (const { output, muxer } of targets) this.deliver(output.name, muxer.setAudioConfig(config));
        if (ladder && this.ladderKeeps(ladder, 'audio', config)) this.toLadder(ladder.muxer.setAudioConfig(config));
      }
      return;
    }
    if (packet.kind === 'video') {
      for (const { output, muxer } of targets) this.deliver(output.name, muxer.pushVideo(timestamp, packet.compositionOffset, packet.keyframe, packet.data));
      if (ladder) this.toLadder(ladder.muxer.pushVideo(timestamp, packet.compositionOffset, packet.keyframe, packet.data));
    } else {
      for (const { output, muxer } of targets) this.deliver(output.name, muxer.pushAudio(timestamp, packet.data));
      if (ladder) this.toLadder(ladder.muxer.pushAudio(timestamp, packet.data));
    }
  }

  private deliver(name: string, events: MuxerEvent[]): void {
    for (const event of events) {
      if (event.type === 'init') this.opts.sink.onInit(name, event);
      else this.opts.sink.onFragment(name, event);
    }
  }

  /**
   * Whether the ladder's feed can take this configuration. FLV carries a new one in line; a Matroska
   * feed that has one already is stopped and its owner told, to start ffmpeg again with the new one.
   * A publisher that switches from H.264 or AAC to another codec mid-stream stops the ladder's input
   * (the FLV feed cannot carry it): the source rendition goes on, the rungs end.
   */
  private ladderKeeps(ladder: NonNullable<NativeSource['ladder']>, kind: 'video' | 'audio', config: VideoConfig | AudioConfig): boolean {
    if (ladder.input.format === 'flv' && config.codec !== (kind === 'video' ? 'avc1' : 'mp4a')) {
      this.ladder = null;
      this.problem(`the publisher switched to ${config.codec} mid-stream: the ladder stops, the source goes on`);
      return false;
    }
    const before = ladder.muxer.configs[kind]?.record;
    if (ladder.input.format === 'flv' || !before || before.equals(config.record) || !ladder.input.onNewConfiguration) return true;
    this.ladder = null;
    ladder.input.onNewConfiguration();
    return false;
  }

  private toLadder(events: Array<{ data: Buffer }>): void {
    const ladder = this.ladder;
    if (!ladder) return;
    for (const event of events) {
      if (!ladder.input.write(event.data)) {
        ladder.muxer.resync();
        this.problem('the ladder encoder is behind: skipping to the next keyframe');
        return;
      }
    }
  }

  /** Keeps the output timeline continuous across timestamp jumps and the 32-bit rollover. */
  private rebase(timestamp: number): number {
    let out = timestamp + this.offset;
    if (this.newest !== null && (out < this.newest - BACKWARDS_MS || out > this.newest + FORWARDS_MS)) {
      this.offset = this.newest + JUMP_STEP_MS - timestamp;
      this.opts.log.warn({ from: this.newest, to: out }, 'publisher timestamps jumped: rebased to keep the timeline continuous');
      out = timestamp + this.offset;
    }
    this.newest = this.newest === null ? out : Math.max(this.newest, out);
    return out;
  }

  private problem(message: string): void {
    if (this.problems.size >= MAX_PROBLEM_KINDS && !this.problems.has(message)) this.problems.clear();
    const count = (this.problems.get(message) ?? 0) + 1;
    this.problems.set(message, count);
    if (count === 1 || count % 100 === 0) this.opts.log.warn({ problem: message, count }, 'stream input skipped');
  }
}
