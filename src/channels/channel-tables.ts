// Row type of the channels table (sql/001_accounts.sql), kept by hand in step with sql/.
import type { Generated } from 'kysely';

export interface ChannelsTable {
  id: Generated<string>;
  owner_id: string;
  slug: string;
  title: Generated<string>;
  description: Generated<string>;
  stream_key_hash: string;
  stream_key_ciphertext: string;
  stream_key_rotated_at: Generated<Date>;
  created_at: Generated<Date>;
}

export interface ChannelTables {
  channels: ChannelsTable;
}
