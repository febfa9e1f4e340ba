// The transcoding job of one upload, run by whichever worker takes it (the server's own with
// WORKER=in-process, or `npm run worker` processes): fetch the source, probe it, one ffmpeg for the
// whole ladder + loudness + tiles, store it in the recordings' layout, mark the VOD ready and drop
// the source. Bad input fails for good with a reason for the owner (PermanentJobError, no retry);
// other failures are retried by the queue (3 attempts with backoff) and the last one is reported.
// Every attempt starts from a clean temporary directory and writes the same storage keys, so a job
// taken over from a worker killed mid-way still makes one VOD.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { PermanentJobError, type JobContext, type Jobs } from '../src/jobs/jobs.ts';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';
import { displaySize, probeMedia, refuseMedia, UnreadableMediaError } from './media-probe.ts';
import { buildTranscodeArgs, TILE_DIR } from './transcode-args.ts';
import { FfmpegFailedError, runTranscode } from './transcode-run.ts';
import { publishUpload } from './upload-publish.ts';
import { UploadStore } from './upload-store.ts';
import { VodStore } from './vod-store.ts';
import type { VodDb } from './vod-tables.ts';
import type { VodProgress } from './vod-progress.ts';

export const TRANSCODE_QUEUE = 'transcode';
export interface TranscodeJobData {
  vodId: string;
}

export interface UploadSource {
  read(uploadId: string): Promise<Readable>;
  remove(uploadId: string): Promise<void>;
}

export interface TranscodeDeps {
  db: Kysely<VodDb>;
  storage: Storage;
  source: UploadSource;
  ffmpegPath: string;
  ladder: Array<{ height: number; videoBitrateKbps: number }>;
  preset: string;
  maxDurationS: number;
  log: Logger;
  /** where sources and outputs are kept while a job runs; default the OS temp directory */
  workDir?: string;
  /** told every change of status and progress (published to the owner's page) */
  notify?: (update: VodProgress) => void;
  /** announces a VOD that became ready (`vod.ready` on the bus, for followers and webhooks); a failure loses only the announcement */
  announceReady?: (ready: { vodId: string; channelId: string }) => Promise<void>;
}

/** Adds the VOD's transcoding job; the VOD id is the job id, so it is never queued twice. */
export function enqueueTranscode(jobs: Jobs, vodId: string): Promise<string> {
  return jobs.add<TranscodeJobData>(TRANSCODE_QUEUE, { vodId }, { jobId: vodId, attempts: 3, backoffMs: 5000 });
}

export function registerTranscodeJobs(jobs: Jobs, deps: TranscodeDeps, options: { concurrency: number }): void {
  jobs.work<TranscodeJobData>(TRANSCODE_QUEUE, transcodeHandler(deps), { concurrency: options.concurrency });
}

// What ffmpeg says when the bytes themselves are bad: retrying cannot help.
const DAMAGED = /Invalid data found|moov atom not found|corrupt|error while decoding|Invalid NAL|partial file|Truncating packet|invalid frame|non-existing PPS|no frame!/i;

export function ffprobePathFor(ffmpegPath: string): string {
  const base = path.basename(ffmpegPath);
  return base.includes('ffmpeg') ? path.join(path.dirname(ffmpegPath), base.replace('ffmpeg', 'ffprobe')) : 'ffprobe';
}

export function transcodeHandler(deps: TranscodeDeps) {
  const vods = new VodStore(deps.db);
  const uploads = new UploadStore(deps.db);
  const ffprobePath = ffprobePathFor(deps.ffmpegPath);
  const notify = (vodId: string, status: VodProgress['status'], progress: number, failureReason: string | null = null) => deps.notify?.({ vodId, status, progress, failureReason });

  const dropSource = async (vodId: string, uploadId: string) => {
    await deps.source.remove(uploadId).catch((err) => deps.log.warn({ err, vod: vodId }, 'removing an upload source failed'));
    await uploads.forgetSource(vodId);
  };
  const clearPrefix = async (prefix: string) => {
    for (const object of await deps.storage.list(`${prefix}/`)) await deps.storage.remove(object.key);
  };

  return async (job: JobContext<TranscodeJobData>): Promise<void> => {
    const { vodId } = job.data;
    const { signal } = job;
    const log = deps.log.child({ vod: vodId, job: job.id, attempt: job.attempt });
    const vod = await vods.byId(vodId);
    // Ready, failed for good or cancelled, deleted: nothing to do (a stale job never revives a VOD).
    if (!vod || vod.deleted_at || vod.source !== 'upload' || vod.status === 'ready' || vod.status === 'failed') return;
    if (!vod.upload_id) {
      await uploads.fail(vodId, 'The uploaded file is gone; upload it again.');
      return;
    }
    const uploadId = vod.upload_id;
    await uploads.setProcessing(vodId);
    notify(vodId, 'processing', 0);
    const work = await mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'spillway-transcode-'));
    let lastReport = 0;
    const report = (percent: number) => {
      const now = Date.now();
      if (now - lastReport < 1000) return;
      lastReport = now;
      const p = Math.round(percent * 10) / 10;
      void Promise.all([job.progress(p), uploads.setProgress(vodId, p)]).catch((err) => log.warn({ err }, 'reporting progress failed'));
      notify(vodId, 'processing', p);
    };
    try {
      const input = path.join(work, 'source');
      await pipeline(await deps.source.read(uploadId), createWriteStream(input), { signal });
      let media;
      try {
        media = await probeMedia(ffprobePath, input, signal);
      } catch (err) {
        if (err instanceof UnreadableMediaError) throw new PermanentJobError(err.message);
        throw err;
      }
      const refused = refuseMedia(media, { maxDurationS: deps.maxDurationS });
      if (refused) throw new PermanentJobError(refused);
      const outDir = path.join(work, 'out');
      const { args, renditions } = buildTranscodeArgs({
        input,
        outDir,
        source: { ...displaySize(media.video!), fps: media.video!.fps },
        hasAudio: media.audio !== null,
        ladder: deps.ladder,
        preset: deps.preset,
      });
      await Promise.all([...renditions.map((r) => mkdir(path.dirname(r.playlist), { recursive: true })), mkdir(path.join(outDir, TILE_DIR), { recursive: true })]);
      log.info({ durationS: media.durationS, video: media.video, audio: media.audio?.codec ?? null, renditions: renditions.map((r) => r.name) }, 'transcoding an upload');
      const started = Date.now();
      try {
        await runTranscode({ ffmpegPath: deps.ffmpegPath, args, signal, onSeconds: (s) => report(Math.min(95, (s / media.durationS) * 95)) });
      } catch (err) {
        if (err instanceof FfmpegFailedError && DAMAGED.test(err.stderr)) throw new PermanentJobError('The video is damaged and cannot be read to its end; export it again and upload the new file.');
        throw err;
      }
      // Old objects of an attempt that died half-way go first: this attempt writes the whole VOD.
      await clearPrefix(vod.storage_prefix);
      const published = await publishUpload({
        storage: deps.storage,
        ffmpegPath: deps.ffmpegPath,
        prefix: vod.storage_prefix,
        outDir,
        renditions,
        signal,
        onWarning: (err) => log.error({ err }, 'making the VOD thumbnails failed'),
      });
      if (published.durationS < media.durationS * 0.9 - 1) {
        await clearPrefix(vod.storage_prefix);
        throw new PermanentJobError(`The file is cut short: it holds ${published.durationS.toFixed(0)} s of the ${media.durationS.toFixed(0)} s it announces. Upload the whole file again.`);
      }
      const now = await vods.byId(vodId);
      if (!now || now.deleted_at) {
        // Deleted while it was transcoding: leave nothing behind.
        await clearPrefix(vod.storage_prefix);
        return;
      }
      await vods.markReady(vodId, { ...published, mediaOffsetMs: 0 });
      notify(vodId, 'ready', 100);
      // As the archiver does for a recording: social/ notifies followers and calls webhooks.
      await deps.announceReady?.({ vodId, channelId: vod.channel_id }).catch((err) => log.warn({ err }, 'announcing vod.ready failed'));
      await dropSource(vodId, uploadId);
      log.info({ durationS: published.durationS, seconds: (Date.now() - started) / 1000, sizeBytes: published.sizeBytes }, 'upload transcoded; VOD ready');
    } catch (err) {
      if (signal.aborted) throw err;
      const permanent = err instanceof PermanentJobError;
      if (permanent || job.attempt >= job.maxAttempts) {
        const reason = permanent ? err.message : 'Transcoding failed on our side; try uploading the video again.';
        log.warn({ err, permanent }, 'transcoding an upload failed for good');
        await uploads.fail(vodId, reason);
        notify(vodId, 'failed', 0, reason);
        await dropSource(vodId, uploadId);
      } else {
        log.warn({ err }, 'transcoding an upload failed; it will be retried');
      }
      throw err;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  };
}
