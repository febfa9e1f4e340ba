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
