// One live stream: its renditions' packagers, the native muxers that make the source rendition(s)
// straight from the publisher's messages, and the ffmpeg run that makes the transcoded ladder from
// the same messages fed to its stdin (ladder-runner.ts); too many ffmpeg failures in a row end the
// session with 'ffmpeg-failed'.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import type { MuxerFragment, MuxerInit } from './cmaf-muxer.ts';
import { estimateKbps } from './ffmpeg-args.ts';
import { PeakBitrate } from './peak-bitrate.ts';
import { LadderRunner } from './ladder-runner.ts';
import { NativeSource, type NativeOutput, type SourceTag } from './native-source.ts';
import { renderMasterPlaylist } from './master-playlist.ts';
import { decideReload, type ReloadRequest } from './blocking-reload.ts';
import { lastMsnAndPart, renderMediaPlaylist } from './ll-hls-playlist.ts';
import { RenditionPackager, type InitSection, type MediaFragment, type SegmentEvent } from './rendition-packager.ts';

type InitSectionWithCodec = InitSection & { codec: string };
import { StreamHealth } from './stream-health.ts';
import type { LiveSnapshot, MediaPlaylistResult } from './live-session-view.ts';
import type { EndReason, RenditionInfo } from './stream-defs.ts';
import type { FreshSegments } from './fresh-segments.ts';

export interface LiveSessionOptions {
  id: string;
  channelId: string;
  slug: string;
  mediaDir: string;
  ffmpegPath: string;
  /** The ladder's ffmpeg argv (reading the publish on stdin); the same renditions every time. Null: no ladder. */
  buildRun: (() => { args: string[]; outputs: Array<{ name: string; fd: number }> }) | null;
  /** Renditions muxed natively from the publisher's tracks, no ffmpeg. */
  native: NativeOutput[];
  /** The tracks the ladder is made from. */
  ladderInput: { videoTrack: number; audioTrack: number | null; format: 'flv' | 'matroska' } | null;
  renditions: RenditionInfo[];
  partTarget: number;
  segmentTarget: number;
  windowSegments: number;
  maxRestarts: number;
  log: Logger;
  /** Segments just written, for the recorder in this process. */
  fresh?: FreshSegments;
}

// Blocked requests are held at most three target durations (§6.2.5.2), and never less than 3 s.
const holdMs = (packager: RenditionPackager) => Math.max(3000, packager.state.targetDuration * 3000);
const FIRST_PART_WAIT_MS = 10_000;

/** A publish's audio/video messages (the ingest's PublishTags). */
export interface SourceTags {
  subscribe(listener: (tag: SourceTag) => void, onEnd: () => void): () => void;
}

export class LiveSession extends EventEmitter<{ ended: [EndReason]; segment: [SegmentEvent]; part: [string] }> {
  readonly startedAt = new Date();
  private readonly packagers = new Map<string, RenditionPackager>();
  readonly health = new StreamHealth();
  private readonly codecs = new Map<string, string>();
  private readonly ladder: LadderRunner | null;
  private native: NativeSource | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly pictureSizes = new Map<string, { width: number; height: number }>();
  private endReason: EndReason | null = null;

  constructor(private readonly opts: LiveSessionOptions) {
    super();
    for (const r of opts.renditions) {
      const targetDuration = r.passthrough ? Math.max(2, Math.ceil(opts.segmentTarget)) : Math.max(1, Math.ceil(opts.segmentTarget));
      const packager = new RenditionPackager({
        name: r.name,
        dir: path.join(opts.mediaDir, 'live', opts.id, r.name),
        partTarget: opts.partTarget,
        segmentTarget: opts.segmentTarget,
        targetDuration,
        windowSegments: opts.windowSegments,
        log: opts.log,
        fresh: opts.fresh,
      });
      packager.on('segment', (e) => this.emit('segment', e));
      packager.on('part', () => this.emit('part', r.name));
      this.packagers.set(r.name, packager);
    }
    this.ladder =
      opts.buildRun && opts.ladderInput
        ? new LadderRunner({
            ffmpegPath: opts.ffmpegPath,
            buildRun: opts.buildRun,
            input: opts.ladderInput,
            maxRestarts: opts.maxRestarts,
            log: opts.log,
            onInit: (name, init) => this.onInit(name, init),
            onFragment: (name, fragment) => this.onFragment(name, fragment),
            onGiveUp: () => void this.end('ffmpeg-failed'),
          })
        : null;
  }

  get id(): string {
    return this.opts.id;
  }

  get channelId(): string {
    return this.opts.channelId;
  }

  get slug(): string {
    return this.opts.slug;
  }

  get ended(): boolean {
    return this.endReason !== null;
  }

  get restartCount(): number {
    return this.ladder?.restarts ?? 0;
  }

  /** The publisher is (back) on air: mux its messages, and start the ladder's ffmpeg on them. */
  attach(tags: SourceTags): void {
    if (this.ended) return;
    this.release();
    const native = new NativeSource({
      outputs: this.opts.native,
      partTarget: this.opts.partTarget,
      log: this.opts.log,
      sink: { onInit: (name, init) => this.onInit(name, init), onFragment: (name, fragment) => this.onFragment(name, fragment) },
    });
    this.native = native;
    this.unsubscribe = tags.subscribe((tag) => native.push(tag), () => {});
    this.ladder?.start(native);
  }

  /** The publisher left; ffmpeg stops, the playlists wait for a reconnect or the end. */
  async detach(): Promise<void> {
    this.release();
    await this.ladder?.stop();
  }

  async end(reason: EndReason): Promise<void> {
    if (this.ended) return;
    this.endReason = reason;
    this.release();
    await this.ladder?.stop();
    await Promise.all([...this.queues.values()]);
    await Promise.all([...this.packagers.values()].map((p) => p.end()));
    this.opts.log.info({ reason, restarts: this.restartCount }, 'live session ended');
    this.emit('ended', reason);
  }

  /** Kills the current ffmpeg as a crash would; for tests and fault drills. */
  killFfmpeg(): number | undefined {
    return this.ladder?.kill();
  }

  get ffmpegPid(): number | undefined {
    return this.ladder?.pid;
  }

  /** A rendition's packager, for tests that check what it holds (segment and part durations). */
  packagerForTests(rendition: string): RenditionPackager | undefined {
    return this.packagers.get(rendition);
  }

  hasRendition(rendition: string): boolean {
    return this.packagers.has(rendition);
  }

  /** The master playlist, or null until every rendition has its init section. */
  master(): string | null {
    if (!this.ready) return null;
    return renderMasterPlaylist(
      this.opts.renditions
        .filter((r) => this.codecs.has(r.name))
        .map((r) => ({
          name: r.name,
          uri: `${r.name}/index.m3u8`,
          bandwidth: this.bandwidth(r),
          averageBandwidth: Math.round(this.bandwidth(r) * 0.85),
          width: this.pictureSizes.get(r.name)?.width ?? r.width,
          height: this.pictureSizes.get(r.name)?.height ?? r.height,
          frameRate: r.frameRate,
          codecs: this.codecs.get(r.name)!,
        })),
    );
  }

  /** True once every rendition has its init section, so the master playlist is complete. */
  get ready(): boolean {
    return this.opts.renditions.every((r) => this.codecs.has(r.name));
  }

  /** The master playlist once ready; right after a publish the init sections are a moment away. */
  async waitForMaster(timeoutMs: number): Promise<string | null> {
    const first = this.packagers.values().next().value;
    if (!this.ready && first) await first.waitFor(() => this.ready, timeoutMs);
    return this.master();
  }

  /**
   * A media playlist under the blocking-reload rules: held until the requested part exists (at most
   * three target durations), refused when it is too far ahead, and before the first part held for it.
   */
  async mediaPlaylist(rendition: string, request: ReloadRequest): Promise<MediaPlaylistResult> {
    const packager = this.packagers.get(rendition);
    if (!packager) return { kind: 'error', code: 'no-rendition' };
    const decision = decideReload(packager.state, request);
    if (typeof decision === 'object') return { kind: 'error', code: 'too-far-ahead' };
    if (decision === 'wait') {
      const ok = await packager.waitFor(() => decideReload(packager.state, request) === 'ready', holdMs(packager));
      if (!ok) return { kind: 'error', code: 'timeout' };
    }
    const { state } = packager;
    if (state.segments.length === 0 && state.pendingParts.length === 0) {
      await packager.waitFor(() => state.pendingParts.length > 0 || state.ended, FIRST_PART_WAIT_MS);
    }
    return { kind: 'ready', text: this.renderMedia(packager, request.skip) };
  }

  /**
   * A part's media: the preload-hinted part (or the one after it) is held until it exists, at most
   * three target durations. Null for a part that no playlist lists any more, or one too far ahead.
   */
  async part(rendition: string, number: number): Promise<Buffer | null> {
    const packager = this.packagers.get(rendition);
    if (!packager) return null;
    if (number < packager.nextPartNumber || number > packager.nextPartNumber + 1) return (await packager.part(number)) ?? null;
    await packager.waitFor(() => packager.nextPartNumber > number || packager.state.ended, holdMs(packager));
    return (await packager.part(number)) ?? null;
  }

  /**
   * Holds a request for a listed segment whose file is still queued for writing. True when it
   * waited, so the caller should look again.
   */
  async waitForFile(rendition: string, file: string): Promise<boolean> {
    const packager = this.packagers.get(rendition);
    if (!packager) return false;
    const segmentNumber = /^seg-(\d+)\.m4s$/.exec(file)?.[1];
    if (segmentNumber !== undefined && packager.state.segments.some((s) => s.mediaSequence === Number(segmentNumber))) {
      await packager.idle();
      return true;
    }
    return false;
  }

  snapshot(): LiveSnapshot {
    return {
      id: this.id,
      slug: this.opts.slug,
      channelId: this.opts.channelId,
      startedAt: this.startedAt,
      ready: this.ready,
      restarts: this.restartCount,
      health: this.health.snapshot(),
      renditions: this.opts.renditions.map((info) => {
        const { state, nextPartNumber } = this.packagers.get(info.name)!;
        const last = lastMsnAndPart(state);
        const newest = state.segments.at(-1);
        const discontinuity = state.segments.findLast((s) => s.discontinuity);
        return {
          ...info,
          lastMsn: last.msn,
          lastPart: last.part,
          segmentCount: state.segments.length,
          nextPartNumber,
          lastDiscontinuityMsn: discontinuity?.mediaSequence ?? null,
          newestSegment: newest ? { uri: newest.uri, mapUri: newest.mapUri ?? state.mapUri } : null,
        };
      }),
    };
  }

  private renderMedia(packager: RenditionPackager, skip: boolean): string {
    // The other renditions' edges (EXT-X-RENDITION-REPORT), computed per request, never stored.
    const renditionReports = [...this.packagers.values()]
      .filter((p) => p !== packager)
      .map((p) => {
        const last = lastMsnAndPart(p.state);
        return { uri: `../${p.name}/index.m3u8`, lastMsn: last.msn, lastPart: last.part };
      });
    return renderMediaPlaylist(packager.state, { skip, renditionReports });
  }

  /** Stops taking the publisher's messages; what the muxers hold becomes each rendition's last part. */
  private release(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.native?.end();
    this.native = null;
  }

  private onInit(name: string, init: MuxerInit | (InitSectionWithCodec & { width?: null })): Promise<void> {
    return this.enqueue(name, async () => {
      this.codecs.set(name, init.codec);
      this.timescales.set(name, init.timescale);
      if (init.width && init.height) this.pictureSizes.set(name, { width: init.width, height: init.height });
      await this.packagers.get(name)?.onInit(init);
    });
  }

  /**
   * BANDWIDTH: the planned figure, raised to the peak rate measured over whole keyframe intervals
   * (+10 %) once there is one; for a multitrack rendition, which has no plan, estimated from its
   * picture size until then.
   */
  private bandwidth(r: RenditionInfo): number {
    const peak = this.rates.get(r.name)?.peak ?? 0;
    const size = this.pictureSizes.get(r.name);
    const estimate = r.bandwidth > 0 || !size ? r.bandwidth : Math.round((estimateKbps(size.width, size.height, r.frameRate || 30) + 128) * 1100);
    return Math.max(estimate, Math.round(peak * 1.1));
  }

  private readonly rates = new Map<string, PeakBitrate>();

  private onFragment(name: string, fragment: MuxerFragment | MediaFragment): Promise<void> {
    return this.enqueue(name, async () => {
      let rate = this.rates.get(name);
      if (!rate) this.rates.set(name, (rate = new PeakBitrate()));
      rate.onFragment(fragment, this.timescales.get(name) ?? 0);
      if (name === this.sourceRendition) this.health.onFragment(fragment, this.timescales.get(name) ?? 0);
      await this.packagers.get(name)?.onFragment(fragment);
    });
  }

  /** A rendition's inits and fragments are packaged strictly in order, one at a time. */
  private enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(name) ?? Promise.resolve()).then(task).catch((err) => this.opts.log.error({ err, rendition: name }, 'packaging a fragment failed'));
    this.queues.set(name, next);
    return next;
  }

  private readonly timescales = new Map<string, number>();

  private get sourceRendition(): string {
    return this.opts.renditions[0]?.name ?? '';
  }
}
