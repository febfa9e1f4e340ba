// Channels: one per user, slug = username. Owns the stream key's whole life: made with the
// channel, shown to the owner, rotated on demand, and verified for the ingest.
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ServerKeys } from '../secrets.ts';
import { cleanText } from '../text/clean-text.ts';
import type { ChannelTables, ChannelsTable } from './channel-tables.ts';
import { STREAM_KEY_PATTERN, decryptStreamKey, encryptStreamKey, generateStreamKey, streamKeyHash } from './stream-key.ts';

export interface Channel {
  id: string;
  slug: string;
  ownerId: string;
  title: string;
  description: string;
  createdAt: Date;
}

export interface ChannelServiceDeps {
  db: Kysely<ChannelTables>;
  keys: ServerKeys;
  log: Logger;
}

type KeyRotatedListener = (channel: Channel) => void;

export class ChannelService {
  private readonly rotatedListeners = new Set<KeyRotatedListener>();

  constructor(private readonly deps: ChannelServiceDeps) {}

  /** Creates a user's channel; called inside the registration transaction. */
  async create(trx: Kysely<ChannelTables>, owner: { id: string; username: string }): Promise<void> {
    const key = generateStreamKey();
    await trx
      .insertInto('channels')
      .values({
        owner_id: owner.id,
        slug: owner.username,
        stream_key_hash: streamKeyHash(this.deps.keys.streamKeyHmac, key),
        stream_key_ciphertext: encryptStreamKey(this.deps.keys.streamKeyCipher, key),
      })
      .execute();
  }

  async bySlug(slug: string): Promise<Channel | null> {
    const row = await this.deps.db
      .selectFrom('channels')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['slug']), '=', slug.toLowerCase()))
      .executeTakeFirst();
    return row ? toChannel(row) : null;
  }

  async byId(id: string): Promise<Channel | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    const row = await this.deps.db.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toChannel(row) : null;
  }

  async byOwner(ownerId: string): Promise<Channel | null> {
    const row = await this.deps.db.selectFrom('channels').selectAll().where('owner_id', '=', ownerId).executeTakeFirst();
    return row ? toChannel(row) : null;
  }

  /** The channel if `userId` owns it; NOT_FOUND or FORBIDDEN otherwise. */
  async requireOwned(slug: string, userId: string): Promise<Channel> {
    const channel = await this.bySlug(slug);
    if (!channel) throw new AppError('NOT_FOUND', 'No such channel.');
    if (channel.ownerId !== userId) throw new AppError('FORBIDDEN', 'Only the channel owner may do that.');
    return channel;
  }

  /** Title and description are cleaned here, whichever door they came through: a title is one line. */
  async update(channelId: string, patch: { title?: string; description?: string }): Promise<Channel> {
    const cleaned = {
      ...(patch.title !== undefined ? { title: cleanText(patch.title) } : {}),
      ...(patch.description !== undefined ? { description: cleanText(patch.description, { multiline: true }) } : {}),
    };
    const row = await this.deps.db
      .updateTable('channels')
      .set(cleaned)
      .where('id', '=', channelId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toChannel(row);
  }

  async showStreamKey(channelId: string): Promise<string> {
    const row = await this.deps.db
      .selectFrom('channels')
      .select('stream_key_ciphertext')
      .where('id', '=', channelId)
      .executeTakeFirstOrThrow();
    return decryptStreamKey(this.deps.keys.streamKeyCipher, row.stream_key_ciphertext);
  }

  /** Replaces the key; the old one stops working at once and listeners end any live stream. */
  async rotateStreamKey(channelId: string): Promise<string> {
    const key = generateStreamKey();
    const row = await this.deps.db
      .updateTable('channels')
      .set({
        stream_key_hash: streamKeyHash(this.deps.keys.streamKeyHmac, key),
        stream_key_ciphertext: encryptStreamKey(this.deps.keys.streamKeyCipher, key),
        stream_key_rotated_at: new Date(),
      })
      .where('id', '=', channelId)
      .returningAll()
      .executeTakeFirstOrThrow();
    const channel = toChannel(row);
    this.deps.log.info({ channelId, slug: channel.slug }, 'stream key rotated');
    for (const listener of this.rotatedListeners) {
      try {
        listener(channel);
      } catch (err) {
        this.deps.log.error({ err, channelId }, 'stream key rotation listener failed');
      }
    }
    return key;
  }

  onStreamKeyRotated(listener: KeyRotatedListener): () => void {
    this.rotatedListeners.add(listener);
    return () => this.rotatedListeners.delete(listener);
  }

  /** For the ingest: the channel a stream key belongs to, or null. Never logs the key. */
  async verifyStreamKey(key: string): Promise<Channel | null> {
    if (!STREAM_KEY_PATTERN.test(key)) return null;
    const row = await this.deps.db
      .selectFrom('channels')
      .selectAll()
      .where('stream_key_hash', '=', streamKeyHash(this.deps.keys.streamKeyHmac, key))
      .executeTakeFirst();
    return row ? toChannel(row) : null;
  }
}

function toChannel(row: Selectable<ChannelsTable>): Channel {
  return {
    id: row.id,
    slug: row.slug,
    ownerId: row.owner_id,
    title: row.title,
    description: row.description,
    createdAt: row.created_at,
  };
}
