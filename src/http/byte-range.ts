// The Range header of a media request (RFC 9110 §14.1.2), pure. One rule throughout: a single
// `bytes=` range is honoured; anything else (invalid syntax, another unit, several ranges) is
// ignored and the whole file served, which §14.2 allows. Positions past what a JavaScript number
// holds exactly are clamped: past any real object's end, they mean the same thing.

export type RangeRequest =
  /** `bytes=a-b` or `bytes=a-`: from byte `start`, to `end` inclusive or to the end. */
  | { start: number; end?: number }
  /** `bytes=-n`: the last `suffix` bytes. */
  | { suffix: number };

const SINGLE_RANGE = /^bytes=([0-9]*)-([0-9]*)$/i;

function position(digits: string): number {
  const significant = digits.replace(/^0+(?=[0-9])/, '');
  return significant.length > 15 ? Number.MAX_SAFE_INTEGER : Number(significant);
}

/** The range asked for, or null when the request is to be answered with the whole representation. */
export function parseByteRange(header: string | undefined): RangeRequest | null {
  const m = header === undefined ? null : SINGLE_RANGE.exec(header.trim());
  if (!m) return null;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return null;
  if (first === '') return { suffix: position(last) };
  const start = position(first);
  if (last === '') return { start };
  const end = position(last);
  // §14.1.1: a last-pos before the first-pos makes the range-spec invalid.
  return end < start ? null : { start, end };
}

/** Resolves a suffix against the object's size; `bytes=-0` starts at `size`, so Storage finds it unsatisfiable. */
export function absoluteRange(range: RangeRequest, size: number): { start: number; end?: number } {
  return 'suffix' in range ? { start: Math.max(0, size - range.suffix) } : range;
}
