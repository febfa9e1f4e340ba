// The media of segments the live packager has just written, for a recorder in the same process
// that would otherwise read each one straight back from disk (measured: reading a 780 KB segment
// back cost 1.5–2 ms of CPU, about as much as storing it). The directory stays the source of truth:
// a recorder takes a segment's media only when its size matches the file it listed, and reads the
// file whenever nothing is handed over (an archiver in another process, a restart, a segment it
// reached late). Bounded by bytes and by age, oldest out first: a recorder takes a segment within
// milliseconds, so what waits longer is not going to be taken from here.

export const FRESH_SEGMENT_BYTES = 32 * 1024 * 1024;
export const FRESH_SEGMENT_MS = 10_000;

interface Entry {
  chunks: Buffer[];
  size: number;
  at: number;
}

export class FreshSegments {
  private readonly files = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = FRESH_SEGMENT_BYTES,
    private readonly maxAgeMs = FRESH_SEGMENT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** `file` (its absolute path) now holds `chunks` end to end. */
  add(file: string, chunks: Buffer[]): void {
    this.remove(file);
    const size = chunks.reduce((sum, c) => sum + c.length, 0);
    const at = this.now();
    if (size <= this.maxBytes) {
      this.files.set(file, { chunks, size, at });
      this.bytes += size;
    }
    for (const [oldest, entry] of this.files) {
      if (this.bytes <= this.maxBytes && at - entry.at <= this.maxAgeMs) break;
      this.remove(oldest);
    }
  }

  /** The media handed over for `file`, once: undefined when there is none or its size is not `size`. */
  take(file: string, size: number): Buffer[] | undefined {
    const entry = this.files.get(file);
    if (!entry) return undefined;
    this.remove(file);
    return entry.size === size ? entry.chunks : undefined;
  }

  /** Bytes held. */
  get held(): number {
    return this.bytes;
  }

  private remove(file: string): void {
    const entry = this.files.get(file);
    if (!entry) return;
    this.files.delete(file);
    this.bytes -= entry.size;
  }
}
