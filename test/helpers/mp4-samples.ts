// The coded samples of a fragmented MP4 written by ffmpeg (`-movflags +frag_keyframe+empty_moov+
// default_base_moof`): each track's decoder configuration record and every sample with its decode
// time, composition offset and keyframe flag. Test publishers use it to send what Debian's ffmpeg
// encodes (libx264, libx265, libaom-av1/libsvtav1, AAC, Opus) as RTMP messages.
import { readBoxes, type Box } from '../../packager/fmp4-reader.ts';

export interface Mp4Track {
  id: number;
  kind: 'video' | 'audio';
  /** the sample entry type: avc1, hvc1, hev1, av01, mp4a, Opus */
  entry: string;
  timescale: number;
  /** avcC / hvcC / av1C payload, the AudioSpecificConfig, or an OpusHead rebuilt from dOps */
  config: Buffer;
  samples: Mp4Sample[];
}

export interface Mp4Sample {
  /** milliseconds */
  dts: number;
  compositionOffsetMs: number;
  keyframe: boolean;
  data: Buffer;
}

const child = (payload: Buffer, type: string): Box | undefined => readBoxes(payload).find((b) => b.type === type);
const path = (payload: Buffer, ...types: string[]): Buffer => {
  let at = payload;
  for (const type of types) {
    const box = child(at, type);
    if (!box) throw new Error(`no ${type} box`);
    at = box.payload;
  }
  return at;
};

export function readMp4Samples(file: Buffer): Mp4Track[] {
  const top = readBoxes(file);
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov');
  const tracks = new Map<number, Mp4Track>();
  for (const trak of readBoxes(moov.payload).filter((b) => b.type === 'trak')) {
    const tkhd = path(trak.payload, 'tkhd');
    const id = tkhd.readUInt32BE(tkhd[0] === 1 ? 20 : 12);
    const mdhd = path(trak.payload, 'mdia', 'mdhd');
    const timescale = mdhd.readUInt32BE(mdhd[0] === 1 ? 20 : 12);
    const handler = path(trak.payload, 'mdia', 'hdlr').toString('latin1', 8, 12);
    const stsd = path(trak.payload, 'mdia', 'minf', 'stbl', 'stsd');
    const entry = readBoxes(stsd.subarray(8))[0]!;
    const kind = handler === 'vide' ? 'video' : 'audio';
    tracks.set(id, { id, kind, entry: entry.type, timescale, config: sampleEntryConfig(entry), samples: [] });
  }
  const defaults = new Map<number, { duration: number; size: number; flags: number }>();
  const mvex = child(moov.payload, 'mvex');
  for (const trex of mvex ? readBoxes(mvex.payload).filter((b) => b.type === 'trex') : []) {
    defaults.set(trex.payload.readUInt32BE(4), { duration: trex.payload.readUInt32BE(12), size: trex.payload.readUInt32BE(16), flags: trex.payload.readUInt32BE(20) });
  }
  for (const moof of top.filter((b) => b.type === 'moof')) {
    const moofStart = moof.start;
    for (const traf of readBoxes(moof.payload).filter((b) => b.type === 'traf')) {
      const tfhd = path(traf.payload, 'tfhd');
      const tfFlags = tfhd.readUInt32BE(0) & 0xffffff;
      const track = tracks.get(tfhd.readUInt32BE(4))!;
      const d = { ...(defaults.get(track.id) ?? { duration: 0, size: 0, flags: 0 }) };
      let at = 8;
      let base = moofStart;
      if (tfFlags & 0x01) {
        base = Number(tfhd.readBigUInt64BE(at));
        at += 8;
      }
      if (tfFlags & 0x02) at += 4;
      if (tfFlags & 0x08) (d.duration = tfhd.readUInt32BE(at)), (at += 4);
      if (tfFlags & 0x10) (d.size = tfhd.readUInt32BE(at)), (at += 4);
      if (tfFlags & 0x20) d.flags = tfhd.readUInt32BE(at);
      const tfdt = path(traf.payload, 'tfdt');
      let time = tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
      for (const trun of readBoxes(traf.payload).filter((b) => b.type === 'trun')) {
        const p = trun.payload;
        const version = p[0]!;
        const flags = p.readUInt32BE(0) & 0xffffff;
        const count = p.readUInt32BE(4);
        let pos = 8;
        let offset = base;
        if (flags & 0x01) (offset = base + p.readInt32BE(pos)), (pos += 4);
        let firstFlags: number | undefined;
        if (flags & 0x04) (firstFlags = p.readUInt32BE(pos)), (pos += 4);
        for (let i = 0; i < count; i++) {
          const duration = flags & 0x100 ? p.readUInt32BE((pos += 4) - 4) : d.duration;
          const size = flags & 0x200 ? p.readUInt32BE((pos += 4) - 4) : d.size;
          let sampleFlags = flags & 0x400 ? p.readUInt32BE((pos += 4) - 4) : d.flags;
          if (i === 0 && firstFlags !== undefined) sampleFlags = firstFlags;
          const cts = flags & 0x800 ? (version === 1 ? p.readInt32BE((pos += 4) - 4) : p.readUInt32BE((pos += 4) - 4)) : 0;
          track.samples.push({
            dts: (time * 1000) / track.timescale,
            compositionOffsetMs: (cts * 1000) / track.timescale,
            keyframe: track.kind === 'audio' || (sampleFlags & 0x10000) === 0,
            data: file.subarray(offset, offset + size),
          });
          offset += size;
          time += duration;
        }
      }
    }
  }
  return [...tracks.values()];
}

function sampleEntryConfig(entry: Box): Buffer {
  if (entry.type === 'mp4a') return audioSpecificConfig(path(entry.payload.subarray(28), 'esds').subarray(4));
  if (entry.type === 'Opus') return opusHead(path(entry.payload.subarray(28), 'dOps'));
  const type = { avc1: 'avcC', avc3: 'avcC', hvc1: 'hvcC', hev1: 'hvcC', av01: 'av1C' }[entry.type];
  if (!type) throw new Error(`sample entry ${entry.type} is not supported by the test publisher`);
  return path(entry.payload.subarray(78), type);
}

/** The DecoderSpecificInfo (tag 5) inside an ES_Descriptor. */
function audioSpecificConfig(es: Buffer): Buffer {
  for (let i = 0; i < es.length - 2; i++) {
    if (es[i] !== 0x05) continue;
    let length = 0;
    let j = i + 1;
    for (let k = 0; k < 4; k++) {
      const b = es[j++]!;
      length = (length << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (length > 0 && length <= 8 && j + length <= es.length) return es.subarray(j, j + length);
  }
  throw new Error('no AudioSpecificConfig in esds');
}

/** OpusHead (little-endian, with magic) from an OpusSpecificBox (big-endian). */
function opusHead(dOps: Buffer): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = dOps[1]!;
  head.writeUInt16LE(dOps.readUInt16BE(2), 10);
  head.writeUInt32LE(dOps.readUInt32BE(4), 12);
  head.writeInt16LE(dOps.readInt16BE(8), 16);
  head[18] = dOps[10]!;
  return head;
}
