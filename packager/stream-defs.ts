// Vocabulary shared by the live path and the recordings built from it (vod/): what a rendition is,
// the ways a live session ends, and the cache policy of each kind of file. A leaf module that
// imports nothing, so any room may use it without importing the live path (MediaMTX's `defs`).

/** One rendition of a live session's ladder, as planned before ffmpeg starts. */
export interface RenditionInfo {
  name: string;
  width: number;
  height: number;
  frameRate: number;
  /** bits per second, for BANDWIDTH */
  bandwidth: number;
  passthrough: boolean;
}

export type EndReason =
  | 'unpublished'
  | 'publisher-lost'
  | 'ffmpeg-failed'
  | 'key-rotated'
  | 'max-duration'
  | 'server-shutdown'
  | 'server-restart'
  | 'storage-quota'
  /** the owning node stopped renewing its lease (crashed, cut off); ended by another node */
  | 'node-lost'
  /** an admin suspended the channel's owner */
  | 'suspended'
  /** an admin ended the stream from the admin page */
  | 'ended-by-admin';

/** Parts, segments and init files: names are unique per session (and per VOD), so they never change. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Playlists: always revalidated, they change with every part. */
export const NO_CACHE = 'no-cache';
