// What the archiver needs to know about finished fMP4 files: an init section's codecs and timescale,
// and a segment's exact duration summed from its fragments (never guessed from the target).
import { Fmp4Reader } from '../packager/fmp4-reader.ts';

export interface InitFileInfo {
  /** the HLS CODECS attribute */
  codec: string;
  timescale: number;
}

export function readInitInfo(init: Buffer): InitFileInfo {
  const event = new Fmp4Reader().push(init).find((e) => e.type === 'init');
  if (!event || event.type !== 'init') throw new Error('no init section (ftyp + moov) in the file');
  return { codec: event.codec, timescale: event.timescale };
}

/** Seconds of media in `segment`, read with the init section of its run. */
export function segmentDuration(init: Buffer, segment: Buffer): number {
  const reader = new Fmp4Reader();
  const head = reader.push(init).find((e) => e.type === 'init');
  if (!head || head.type !== 'init') throw new Error('no init section (ftyp + moov) in the file');
  let ticks = 0;
  for (const event of reader.push(segment)) if (event.type === 'fragment') ticks += event.duration;
  return ticks / head.timescale;
}
