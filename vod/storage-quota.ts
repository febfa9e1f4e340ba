// CHANNEL_STORAGE_LIMIT_MB: how much recorded media a channel may keep. Usage is the recorded size
// of its finished VODs plus what the upload journal says of those still recording, so a stream is
// stopped on the bytes it actually made. At the limit a new publish is refused (the encoder is told
// why) and a live stream is ended cleanly with reason `storage-quota`: its VOD is finalised from
// what was recorded, never cut mid-file.
import type { Kysely } from 'kysely';
import type { VodDb } from './vod-tables.ts';
import type { Logger } from '../src/log.ts';

export interface QuotaLive {
  live(): Array<{ channelId: string }>;
  endChannel(channelId: string, reason: 'storage-quota'): Promise<void>;
}

export class StorageQuota {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<VodDb>,
    /** null: no limit */
    readonly limitBytes: number | null,
    private readonly log: Logger,
  ) {}

  /**
   * Bytes the channel holds: finished VODs by their stored size, VODs still being recorded by the
   * files journaled so far (so the sum does not grow with the channel's history), uploads not yet
   * transcoded by their file's size.
   */
  async usage(channelId: string): Promise<number> {
    const row = await this.db
      .selectFrom('vods')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<string | number>('vods.size_bytes').filterWhere('vods.status', '=', 'ready'), eb.lit(0)).as('finished'),
        eb.fn
          .coalesce(
            eb
              .selectFrom('vod_uploads')
              .innerJoin('vods as v', 'v.id', 'vod_uploads.vod_id')
              .select((u) => u.fn.sum<string | number>('vod_uploads.size_bytes').as('s'))
              .where('v.channel_id', '=', channelId)
              .where('v.deleted_at', 'is', null)
              .where('v.status', '!=', 'ready'),
            eb.lit(0),
          )
          .as('recording'),
        // Uploads count at their declared size from the moment they are created, so a channel
        // cannot start more uploads than its limit holds.
        eb.fn.coalesce(eb.fn.sum<string | number>('vods.upload_size').filterWhere('vods.status', 'in', ['uploading', 'processing']), eb.lit(0)).as('uploads'),
      ])
      .where('vods.channel_id', '=', channelId)
      .where('vods.deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.finished) + Number(row.recording) + Number(row.uploads);
  }

  async exceeded(channelId: string): Promise<boolean> {
    return this.limitBytes !== null && (await this.usage(channelId)) >= this.limitBytes;
  }

  /** Checks every live channel every `intervalMs` and ends those over the limit. */
  watch(live: QuotaLive, intervalMs = 5000): void {
    if (this.limitBytes === null || this.timer) return;
    this.timer = setInterval(() => void this.check(live), intervalMs);
    this.timer.unref();
  }

  async check(live: QuotaLive): Promise<void> {
    for (const { channelId } of live.live()) {
      try {
        if (!(await this.exceeded(channelId))) continue;
        this.log.warn({ channelId, limitBytes: this.limitBytes }, 'channel reached its storage limit; ending its stream');
        await live.endChannel(channelId, 'storage-quota');
      } catch (err) {
        this.log.error({ err, channelId }, 'checking a channel storage limit failed');
      }
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
