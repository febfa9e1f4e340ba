// Response bodies of the API routes the pages use (see src/http/routes and chat/). Where the
// server has the type, it is imported (type-only: nothing of the server reaches the bundle).
import type { Static } from 'typebox';
import type { IngestHealth as MeasuredHealth } from '../../packager/stream-health.ts';
import type { VodBody } from '../../vod/vod-routes.ts';
export interface LiveEntry {
  slug: string;
  title: string;
  sessionId: string;
  startedAt: string;
  playbackUrl: string;
  viewers: number;
}

export interface ChannelBody {
  id: string;
  slug: string;
  title: string;
  description: string;
  createdAt: string;
  live?: boolean;
  sessionId?: string;
  startedAt?: string;
  playbackUrl?: string;
  viewers?: number;
  /** The owner's account is suspended. */
  suspended?: boolean;
  // social/
  followerCount?: number;
  following?: boolean;
  tags?: string[];
  category?: string;
  peakViewers?: number;
}

export type Visibility = 'public' | 'unlisted' | 'private';

export type Vod = Static<typeof VodBody> & { visibility: Visibility; source: 'recording' | 'upload'; status: 'recording' | 'finalizing' | 'uploading' | 'processing' | 'ready' | 'failed' };

/** GET /api/v1/channels/:slug/ingest-health: the measured stream plus the session around it. */
export interface IngestHealth extends MeasuredHealth {
  live: boolean;
  startedAt?: string;
  viewers?: number;
  uptimeS: number;
  restarts: number;
}

export interface CommentBody {
  id: string;
  parentId: string | null;
  text: string;
  author: { username: string };
  createdAt: string;
  editedAt: string | null;
  likeCount: number;
  replyCount: number;
  liked: boolean;
}

export interface NotificationBody {
  id: string;
  kind: 'live' | 'video' | 'report';
  /** null for kind 'report' */
  channel: { slug: string; title: string } | null;
  subjectId: string;
  videoTitle: string | null;
  /** the outcome of the user's report, for kind 'report' */
  report: { status: string; targetKind: string; note: string } | null;
  createdAt: string;
  read: boolean;
}

export interface VideoHit {
  id: string;
  title: string;
  channel: { slug: string };
  startedAt: string;
  durationS: number;
  tags: string[];
  viewCount: number;
}

export interface ChannelHit {
  slug: string;
  title: string;
  description: string;
  tags: string[];
  category: string;
  live: boolean;
}
