// The audio/video messages of one accepted publish, handed to one consumer (the live session).
// Messages that arrive before it subscribes (the decoder configurations come first, while the
// session is being set up) are kept and replayed, within a bound: past it the oldest coded frames
// are dropped, never a configuration.
import { classifyTag } from './media-pipe.ts';

export interface FlvTag {
  /** 8 audio, 9 video */
  type: number;
  /** milliseconds */
  timestamp: number;
  /** the FLV tag body (legacy FLV or Enhanced RTMP) */
  data: Buffer;
}

const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

export class PublishTags {
  private listener: ((tag: FlvTag) => void) | null = null;
  private readonly endListeners: Array<() => void> = [];
  private backlog: Array<FlvTag & { config: boolean }> | null = [];
  private backlogBytes = 0;
  private ended = false;

  push(tag: FlvTag): void {
    if (this.ended) return;
    if (this.listener) return this.listener(tag);
    if (!this.backlog) return;
    this.backlog.push({ ...tag, config: classifyTag(tag.type, tag.data) === 'config' });
    this.backlogBytes += tag.data.length;
    while (this.backlogBytes > MAX_BACKLOG_BYTES) {
      const oldest = this.backlog.findIndex((t) => !t.config);
      if (oldest < 0) break;
      this.backlogBytes -= this.backlog[oldest]!.data.length;
      this.backlog.splice(oldest, 1);
    }
  }

  /** One consumer at once; what arrived before the first is replayed to it. Returns unsubscribe. */
  subscribe(listener: (tag: FlvTag) => void, onEnd: () => void): () => void {
    if (this.listener) throw new Error('a publish has one consumer at a time');
    const backlog = this.backlog ?? [];
    this.backlog = null;
    this.backlogBytes = 0;
    for (const { config: _, ...tag } of backlog) listener(tag);
    this.listener = listener;
    this.endListeners.push(onEnd);
    if (this.ended) onEnd();
    return () => {
      if (this.listener === listener) this.listener = null;
      const i = this.endListeners.indexOf(onEnd);
      if (i >= 0) this.endListeners.splice(i, 1);
    };
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.backlog = null;
    for (const fn of this.endListeners.splice(0)) fn();
  }
}
