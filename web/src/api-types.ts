// Response bodies of the API routes the pages use (see src/http/routes and chat/).
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
}

export type Visibility = 'public' | 'unlisted' | 'private';

export interface Vod {
  id: string;
  title: string;
  channel: { slug: string; title: string };
  status: 'recording' | 'finalizing' | 'ready' | 'failed';
  visibility: Visibility;
  startedAt: string;
  durationS: number;
  sizeBytes: number;
  thumbnailUrl: string | null;
  previewTrackUrl: string | null;
  playbackUrl: string | null;
}

export interface IngestHealth {
  live: boolean;
  startedAt?: string;
  viewers?: number;
  uptimeS: number;
  restarts: number;
  bitrateKbps: number;
  fps: number;
  keyframeIntervalS: number | null;
  width: number | null;
  height: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  warnings: string[];
}
