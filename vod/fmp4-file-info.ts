// What the archiver needs to know about finished fMP4 files: an init section's codecs and timescale,
// and a segment's exact duration summed from its fragments (never guessed from the target).
import { Fmp4Reader, readBoxes, type FragmentEvent } from '../packager/fmp4-reader.ts';

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

/**
 * Seconds of media in `segment`, read with the init section of its run: from the first fragment's
 * decode time to the end of the last fragment that has samples of the timing track. The packager's
 * fragments follow one another without gaps, so this is the sum of their durations, and only two
 * of them are parsed (a 2 s segment of 100 ms parts has twenty).
 */
export function segmentDuration(init: Buffer, segment: Buffer | readonly Buffer[]): number {
  const reader = new Fmp4Reader();
  const head = reader.push(init).find((e) => e.type === 'init');
  if (!head || head.type !== 'init') throw new Error('no init section (ftyp + moov) in the file');
  // The file as one buffer, or as the packager wrote it: chunks of whole boxes end to end.
  const fragments: Buffer[] = [];
  for (const chunk of Buffer.isBuffer(segment) ? [segment] : segment) {
    const boxes = readBoxes(chunk);
    boxes.forEach((box, i) => {
      const mdat = boxes[i + 1];
      if (box.type === 'moof' && mdat?.type === 'mdat') fragments.push(chunk.subarray(box.start, mdat.start + mdat.size));
    });
  }
  const timed = (fragment: Buffer) => reader.push(fragment).find((e): e is FragmentEvent => e.type === 'fragment' && e.duration > 0);
  let first: FragmentEvent | undefined;
  for (let i = 0; i < fragments.length && !first; i++) first = timed(fragments[i]!);
  let last: FragmentEvent | undefined;
  for (let i = fragments.length - 1; i >= 0 && !last; i--) last = timed(fragments[i]!);
  if (!first || !last) return 0;
  return (last.baseMediaDecodeTime + last.duration - first.baseMediaDecodeTime) / head.timescale;
}
