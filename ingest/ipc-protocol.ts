// Messages between RtmpIngest (parent) and rtmp-worker.ts (the child that runs node-media-server).
// The parent owns the listener and every decision (app, key, one publisher per channel); the
// worker owns the RTMP connections. Stream keys cross this channel, which is a private pipe,
// never a URL, an argv or a log line.
import type { MediaInfo } from './media-info.ts';

/** The app under which accepted publishes are playable by the packager (never `live`). */
export const INTERNAL_APP = 'internal';

/** Why a live publish ended. The session manager uses it to tell a drop from a deliberate stop. */
export type UnpublishReason =
  /** The publisher said it was stopping (`deleteStream`, as OBS and ffmpeg send on Stop). */
  | 'unpublished'
  /** The connection dropped without an unpublish: the encoder may be about to reconnect. */
  | 'publisher-disconnected'
  | 'idle-timeout'
  | 'protocol-error'
  /** RtmpIngest.kick(): the server dropped it (key rotated, session limit, shutdown). */
  | 'kicked'
  | 'ingest-closed'
  | 'ingest-crashed';

export type RefusalReason = 'bad-app' | 'bad-key' | 'already-live' | 'verify-failed' | 'closing' | 'storage-quota' | 'suspended' | 'unverified';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null>;

export interface WorkerOptions {
  /** A connection must send publish or play within this time. */
  commandTimeoutMs: number;
  /** A publisher that sends nothing for this long is dropped (a half-open TCP would block its reconnect). */
  publisherIdleMs: number;
  /** How long to wait for the first audio/video tags before announcing a publish without them. */
  mediaInfoTimeoutMs: number;
}

export type ParentMessage =
  /** Sent with the accepted socket as the IPC handle. */
  | { t: 'connection'; connId: number }
  | { t: 'publish-accepted'; connId: number; publishId: string; token: string }
  | { t: 'publish-refused'; connId: number; reason: RefusalReason }
  | { t: 'kick'; connId: number }
  | { t: 'close' };

export type WorkerMessage =
  | { t: 'ready' }
  | { t: 'publish-request'; connId: number; remoteAddress: string; app: string; streamName: string }
  /** The accepted publisher's first media arrived (or did not in time): the stream is usable. */
  | { t: 'publish-started'; connId: number; media: MediaInfo }
  /** Only for connections that sent a publish-request. */
  | { t: 'connection-closed'; connId: number; reason: UnpublishReason; inBytes: number }
  | { t: 'log'; level: LogLevel; msg: string; fields: LogFields };

/** IPC delivers whatever the other side sent; both sides only check the tag. */
export function isTagged(value: unknown): value is { t: string } {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}

/** Stream keys look like `live_…`; scrub them and `/live/<name>` paths from free text (errors, NMS logs). */
export function scrubSecrets(text: string): string {
  return text.replace(/\/live\/[^\s/?'"]+/g, '/live/[redacted]').replace(/live_[A-Za-z0-9_-]{8,}/g, '[redacted]');
}
