// Reads the tags of an FLV file (as ffmpeg writes it): what an RTMP publisher would send as
// audio (8), video (9) and script data (18) messages, with their millisecond timestamps.
export interface FlvFileTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

export function readFlvTags(file: Buffer): FlvFileTag[] {
  if (file.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  const tags: FlvFileTag[] = [];
  let at = file.readUInt32BE(5) + 4;
  while (at + 11 <= file.length) {
    const type = file[at]! & 0x1f;
    const size = file.readUIntBE(at + 1, 3);
    const timestamp = (file.readUIntBE(at + 4, 3) | (file[at + 7]! << 24)) >>> 0;
    if (at + 11 + size > file.length) break;
    tags.push({ type, timestamp, data: file.subarray(at + 11, at + 11 + size) });
    at += 11 + size + 4;
  }
  return tags;
}

/**
 * An FLV file's audio/video tags delivered in real time, as the ingest hands a publish to a live
 * session: playback starts when the session subscribes and ends after the last tag.
 */
export function playFlvTags(file: Buffer, opts: { loops?: number } = {}) {
  const tags = readFlvTags(file).filter((tag) => tag.type === 8 || tag.type === 9);
  const span = (tags.at(-1)?.timestamp ?? 0) + 40;
  return {
    subscribe(listener: (tag: FlvFileTag) => void, onEnd: () => void): () => void {
      const startedAt = Date.now();
      let i = 0;
      let loop = 0;
      let timer: NodeJS.Timeout | undefined;
      const tick = () => {
        const now = Date.now() - startedAt;
        while (loop < (opts.loops ?? 1)) {
          const tag = tags[i];
          if (!tag) {
            loop += 1;
            i = 0;
            continue;
          }
          const at = tag.timestamp + loop * span;
          if (at > now) break;
          listener({ ...tag, timestamp: at });
          i += 1;
        }
        if (loop >= (opts.loops ?? 1)) return onEnd();
        timer = setTimeout(tick, 10);
      };
      tick();
      return () => clearTimeout(timer);
    },
  };
}
