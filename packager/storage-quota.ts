// CHANNEL_STORAGE_LIMIT_MB: how much recorded media a channel may keep. Usage is what the upload
// journal says is stored or on its way (every file of every VOD not deleted), so a stream is
// stopped on the bytes it actually made. At the limit a new publish is refused (the encoder is told
// why) and a live stream is ended cleanly with reason `storage-quota`: its VOD is finalised from
// what was recorded, never cut mid-file.
import type { Kysely } from 'kysely';
import type { DB } from '../src/db/schema.ts';
import type { Logger } from '../src/log.ts';

export interface QuotaLive {
  live(): Array<{ opts: { channelId: string } }>;
  endChannel(channelId: string, reason: 'storage-quota'): Promise<void>;
}

export class StorageQuota {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<DB>,
    /** null: no limit */
    readonly limitBytes: number | null,
    private readonly log: Logger,
  ) {}

  /** Bytes of recordings the channel holds (journaled files of its VODs that are not deleted). */
  async usage(channelId: string): Promise<number> {
    const row = await this.db
      .selectFrom('vod_uploads')
      .innerJoin('vods', 'vods.id', 'vod_uploads.vod_id')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string | number>('vod_uploads.size_bytes'), eb.lit(0)).as('bytes'))
      .where('vods.channel_id', '=', channelId)
      .where('vods.deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.bytes);
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
    for (const { opts: { channelId } } of live.live()) {
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
