// The instance settings admins edit: one JSON row in the database, seeded from the environment on
// first start. Every node keeps a copy in memory (read synchronously on hot paths: registration,
// a stream's start) and reloads it when any node announces a change on the bus, so an edit holds
// on every node without a restart.
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Kysely } from 'kysely';
import type { Bus, Unsubscribe } from '../bus/bus.ts';
import type { Logger } from '../log.ts';
import type { InstanceTables } from './instance-tables.ts';

export const SettingsSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.String({ maxLength: 2000 }),
    registration: Type.Union([Type.Literal('open'), Type.Literal('approval'), Type.Literal('invite'), Type.Literal('closed')]),
    /** Largest video a user may upload, in MiB (0: no limit); for the uploads room. */
    uploadLimitMb: Type.Integer({ minimum: 0, maximum: 1024 * 1024 }),
    /** Recorded storage a channel may keep, in MiB (0: no limit). */
    recordingLimitMb: Type.Integer({ minimum: 0, maximum: 1024 * 1024 * 1024 }),
    /** Whether live streams are kept as recordings. */
    keepRecordings: Type.Boolean(),
    /** A live stream ends after this many seconds (0: no limit). */
    maxLiveDurationS: Type.Integer({ minimum: 0, maximum: 7 * 86400 }),
  },
  { additionalProperties: false },
);
export type Settings = Static<typeof SettingsSchema>;
export const SettingsPatch = Type.Partial(SettingsSchema, { additionalProperties: false, minProperties: 1 });
export type SettingsPatch = Static<typeof SettingsPatch>;

const check = Compile(SettingsSchema);
const TOPIC = 'instance.settings';

export interface InstanceSettingsDeps {
  db: Kysely<InstanceTables>;
  bus: Bus;
  log: Logger;
  /** The first values (from the environment), used when the database has none yet. */
  defaults: Settings;
}

export class InstanceSettings {
  private value: Settings;
  private unsubscribe: Unsubscribe | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly listeners = new Set<(settings: Settings) => void>();

  constructor(private readonly deps: InstanceSettingsDeps) {
    this.value = deps.defaults;
  }

  async start(): Promise<void> {
    await this.deps.db
      .insertInto('instance_settings')
      .values({ id: 1, settings: JSON.stringify(this.deps.defaults) })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    await this.reload();
    await this.listen();
  }

  /**
   * Subscribes to changes. A bus that is down at start (readiness reports it) must not keep the
   * server from starting: it retries in the background and reloads once it gets through, so a
   * change made meanwhile is not missed.
   */
  private async listen(delayMs = 1000): Promise<void> {
    if (this.closed) return;
    try {
      this.unsubscribe = await this.deps.bus.subscribe(TOPIC, () => void this.reload());
      if (delayMs > 1000) await this.reload();
    } catch (err) {
      this.deps.log.warn({ err, retryInMs: delayMs }, 'cannot hear instance settings changes yet; retrying');
      this.retry = setTimeout(() => void this.listen(Math.min(delayMs * 2, 30_000)), delayMs);
      this.retry.unref();
    }
  }

  current(): Settings {
    return this.value;
  }

  /** Fires after every change seen by this node (its own or another node's). */
  onChange(listener: (settings: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a validated patch, stores it and tells every node. */
  async update(patch: SettingsPatch, actorId: string): Promise<Settings> {
    const next = await this.deps.db.transaction().execute(async (trx) => {
      // Row lock: two admins saving at once both keep their fields.
      const row = await trx.selectFrom('instance_settings').select('settings').where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
      const merged = { ...this.parse(row.settings), ...patch };
      if (!check.Check(merged)) throw new Error('instance settings patch does not fit the schema');
      await trx.updateTable('instance_settings').set({ settings: JSON.stringify(merged), updated_at: new Date(), updated_by: actorId }).where('id', '=', 1).execute();
      return merged;
    });
    this.apply(next);
    await this.deps.bus.publish(TOPIC, { at: Date.now() });
    return next;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private async reload(): Promise<void> {
    try {
      const row = await this.deps.db.selectFrom('instance_settings').select('settings').where('id', '=', 1).executeTakeFirst();
      if (row) this.apply(this.parse(row.settings));
    } catch (err) {
      this.deps.log.error({ err }, 'reloading instance settings failed; keeping the previous ones');
    }
  }

  /** A stored document missing newer fields takes them from the defaults. */
  private parse(stored: unknown): Settings {
    const merged = { ...this.deps.defaults, ...(typeof stored === 'string' ? JSON.parse(stored) : (stored as object)) };
    return check.Check(merged) ? merged : this.deps.defaults;
  }

  private apply(next: Settings): void {
    if (JSON.stringify(next) === JSON.stringify(this.value)) return;
    this.value = next;
    this.deps.log.info({ settings: next }, 'instance settings changed');
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.deps.log.error({ err }, 'instance settings listener failed');
      }
    }
  }
}
