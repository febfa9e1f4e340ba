// Where a rendition's parts are while a playlist may list them. Parts are never files of their own
// (writing every part as a file was most of the live path's CPU): the parts of the segment being
// built and of the newest segment on disk are held in memory, where players at the live edge ask
// for them; an older part is read from its segment's file, which is its parts end to end.
import { open } from 'node:fs/promises';

export class PartStore {
  /** segment media sequence → its part numbers */
  private readonly bySegment = new Map<number, number[]>();
  /** the media of the parts being built and of the newest segments, until the next one is on disk */
  private readonly held = new Map<number, Buffer>();
  /** where a part of a segment on disk is in that segment's file */
  private readonly onDisk = new Map<number, { file: string; offset: number; length: number }>();

  /** A part of the segment being built. */
  add(number: number, data: Buffer): void {
    this.held.set(number, data);
  }

  /** The parts that make segment `msn`, in order: their media, for the segment file. */
  closeSegment(msn: number, numbers: number[]): Buffer[] {
    this.bySegment.set(msn, numbers);
    return numbers.map((n) => this.held.get(n)!);
  }

  /**
   * Segment `msn` is on disk as `file`: its parts can be read from there, and the parts of the
   * segments before it (on disk already, writes go in order) leave memory. Those of `msn` stay
   * until the next one is written, for players that start or catch up across the boundary.
   */
  written(msn: number, file: string, data: Buffer[]): void {
    const numbers = this.bySegment.get(msn);
    if (!numbers) return;
    let offset = 0;
    numbers.forEach((n, i) => {
      this.onDisk.set(n, { file, offset, length: data[i]!.length });
      offset += data[i]!.length;
    });
    for (const [older, parts] of this.bySegment) {
      if (older < msn) for (const n of parts) this.held.delete(n);
    }
  }

  /** The segments whose parts are kept. */
  segments(): number[] {
    return [...this.bySegment.keys()];
  }

  /** Segment `msn`'s parts are no longer listed anywhere. */
  forget(msn: number): void {
    for (const n of this.bySegment.get(msn) ?? []) {
      this.held.delete(n);
      this.onDisk.delete(n);
    }
    this.bySegment.delete(msn);
  }

  /** A part's media (undefined before it exists and after it is forgotten or its file is gone). */
  async read(number: number): Promise<Buffer | undefined> {
    const held = this.held.get(number);
    if (held) return held;
    const where = this.onDisk.get(number);
    if (!where) return undefined;
    const file = await open(where.file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (!file) return undefined;
    try {
      const data = Buffer.allocUnsafe(where.length);
      const { bytesRead } = await file.read(data, 0, where.length, where.offset);
      return bytesRead === where.length ? data : undefined;
    } finally {
      await file.close();
    }
  }

  /** How many parts' media is held in memory. */
  get inMemory(): number {
    return this.held.size;
  }
}
