// Object storage for recordings: a local directory by default, any S3 API when S3_BUCKET is set.
// Keys are '/'-separated relative paths such as `vods/<id>/720p/seg-12.m4s`.
import type { Readable } from 'node:stream';

export interface PutOptions {
  contentType?: string;
  cacheControl?: string;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted means to the end. */
  end?: number;
}

export interface StoredObject {
  body: Readable;
  /** Size of the whole object. */
  size: number;
  /** Bytes in `body` (the range's length when a range was asked for). */
  contentLength: number;
  /** The range served, when one was asked for. */
  range?: { start: number; end: number };
  contentType?: string;
  cacheControl?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object at ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class RangeNotSatisfiableError extends Error {
  constructor(
    readonly key: string,
    readonly size: number,
  ) {
    super(`range not satisfiable for ${key} (size ${size})`);
    this.name = 'RangeNotSatisfiableError';
  }
}

export interface Storage {
  /** Stores the whole body under `key`, replacing any object there. Large streams go up in parts. */
  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<void>;
  /**
   * Optional, for storage on this machine: stores the local file `file` under `key` without copying
   * its bytes where it can. The caller must never write to `file` again (renaming or deleting it is
   * fine). Throws the file system's error (ENOENT) when `file` does not exist.
   */
  putLocalFile?(key: string, file: string, options?: PutOptions): Promise<void>;
  /** Throws ObjectNotFoundError, or RangeNotSatisfiableError for a range past the end. */
  get(key: string, range?: ByteRange): Promise<StoredObject>;
  /** Size and type without the body, or null when absent. */
  head(key: string): Promise<{ size: number; contentType?: string } | null>;
  /** Removes one object; removing an absent key is not an error. */
  remove(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** A public URL for the key when storage is served directly (CDN_URL), else null: serve it through the app. */
  publicUrl(key: string): string | null;
  /** Throws when the backing service is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
