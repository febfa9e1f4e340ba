// What a live session shows the rooms outside it and its manager (HLS, the live API, thumbnails):
// plain read-only data and waits, never its packagers, options or mutable playlist state.
import type { LiveSession } from './live-session.ts';
import type { IngestHealth } from './stream-health.ts';
import type { RenditionInfo } from './stream-defs.ts';

/** A media playlist request's answer; the HTTP side maps each error to its status. */
export type MediaPlaylistResult =
  | { kind: 'ready'; text: string }
  | { kind: 'error'; code: 'no-rendition' | 'too-far-ahead' | 'timeout' };

/** One rendition as it stands now: plain data, safe to keep. */
export interface RenditionSnapshot extends RenditionInfo {
  /** the newest part (EXT-X-RENDITION-REPORT's LAST-MSN / LAST-PART; part -1 before any) */
  lastMsn: number;
  lastPart: number;
  /** complete segments in the live window */
  segmentCount: number;
  /** the file number the next part will have */
  nextPartNumber: number;
  /** media sequence number of the newest listed segment starting a new ffmpeg run, if any */
  lastDiscontinuityMsn: number | null;
  /** file names (in the rendition's directory) of the newest complete segment and its init section */
  newestSegment: { uri: string; mapUri: string } | null;
}

export interface LiveSnapshot {
  id: string;
  slug: string;
  channelId: string;
  startedAt: Date;
  ready: boolean;
  restarts: number;
  health: IngestHealth;
  renditions: RenditionSnapshot[];
}

/** What rooms outside the session and its manager may use: read-only data and waits. */
export type LiveSessionView = Pick<LiveSession, 'id' | 'startedAt' | 'ready' | 'hasRendition' | 'master' | 'waitForMaster' | 'mediaPlaylist' | 'part' | 'waitForFile' | 'snapshot'>;
