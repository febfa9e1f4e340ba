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
    /** null: no limit. A function is read at every check, so a changed instance setting applies at once. */
    private readonly limit: number | null | (() => number | null),
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

  get limitBytes(): number | null {
    return typeof this.limit === 'function' ? this.limit() : this.limit;
  }

  async exceeded(channelId: string): Promise<boolean> {
    const limit = this.limitBytes;
    return limit !== null && (await this.usage(channelId)) >= limit;
  }

  /**
   * Recorded bytes per channel, largest first (the admin page): finished VODs by their size, ones
   * still recording by their journaled files, as usage() counts them.
   */
  async usageByChannel(limit: number): Promise<Array<{ channelId: string; slug: string; bytes: number }>> {
    const rows = await this.db
      .selectFrom('channels as c')
      .innerJoin('vods as v', (join) => join.onRef('v.channel_id', '=', 'c.id').on('v.deleted_at', 'is', null))
      .leftJoin('vod_uploads as u', (join) => join.onRef('u.vod_id', '=', 'v.id').on('v.status', '!=', 'ready'))
      .select((eb) => [
        'c.id',
        'c.slug',
        eb.fn.coalesce(eb.fn.sum<string | number>('u.size_bytes'), eb.lit(0)).as('recording'),
      ])
      .groupBy(['c.id', 'c.slug'])
      .execute();
    const finished = await this.db
      .selectFrom('vods')
      .select((eb) => ['channel_id', eb.fn.sum<string | number>('size_bytes').as('bytes')])
      .where('status', '=', 'ready')
      .where('deleted_at', 'is', null)
      .groupBy('channel_id')
      .execute();
    const done = new Map(finished.map((r) => [r.channel_id, Number(r.bytes)]));
    return rows
      .map((r) => ({ channelId: r.id, slug: r.slug, bytes: Number(r.recording) + (done.get(r.id) ?? 0) }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, limit);
  }

  /** Checks every live channel every `intervalMs` and ends those over the limit (none while there is no limit). */
  watch(live: QuotaLive, intervalMs = 5000): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(live), intervalMs);
    this.timer.unref();
  }

  async check(live: QuotaLive): Promise<void> {
    for (const { channelId } of live.live()) {
      try {
        if (this.limitBytes === null || !(await this.exceeded(channelId))) continue;
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
