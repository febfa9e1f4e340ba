// Storage in a local directory: the embedded default. Each key is a file under the root, so a web
// server (or CDN origin) pointed at the root serves `${publicBaseUrl}/${key}` unchanged.
import { randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
  type Storage,
  type StoredObject,
} from './storage.ts';
import { guessContentType } from './content-type.ts';

/**
 * Refuses keys that could escape the root or alias another key on disk. Segments starting with '.'
 * are reserved for our sidecars and temp files (and web servers commonly refuse to serve them).
 */
export function assertValidKey(key: string): void {
  const fail = (why: string): never => {
    throw new Error(`invalid storage key ${JSON.stringify(key)}: ${why}`);
  };
  if (key === '') fail('empty');
  if (key.includes('\\') || key.includes('\0')) fail('contains a backslash or NUL');
  if (key.startsWith('/')) fail('absolute');
  for (const segment of key.split('/')) {
    if (segment === '') fail('empty path segment');
    if (segment === '..' || segment === '.') fail('contains a "." or ".." segment');
    if (segment.startsWith('.')) fail('a segment starts with "." (reserved)');
  }
}

interface Sidecar {
  contentType?: string;
  cacheControl?: string;
}

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

// S3 lists keys in UTF-8 byte order; sorting the same way keeps both implementations identical.
const byKeyBytes = (a: ObjectInfo, b: ObjectInfo): number => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));

export class LocalStorage implements Storage {
  private readonly root: string;
  private readonly publicBaseUrl: string | null;

  constructor(opts: { root: string; publicBaseUrl?: string | null }) {
    this.root = path.resolve(opts.root);
    this.publicBaseUrl = opts.publicBaseUrl ? opts.publicBaseUrl.replace(/\/+$/, '') : null;
  }

  async put(key: string, body: Buffer | string | Readable, options: PutOptions = {}): Promise<void> {
    const file = this.fileFor(key);
    const sidecar = sidecarText(key, options);
    await this.writeAtomically(file, body, sidecar);
  }

  /**
   * A hard link to `source`: recording a live segment costs no copy of its bytes (measured: a put
   * of a 780 KB segment 1.6–2.5 ms of CPU, a link 1.3–1.5 ms) and no second copy on disk. Where no
   * link can be made (another file system) the bytes are copied as put copies them.
   */
  async putLocalFile(key: string, source: string, options: PutOptions = {}): Promise<void> {
    const file = this.fileFor(key);
    const sidecar = sidecarText(key, options);
    // The archiver deletes its live copy once this resolves, so the bytes must be on disk by then.
    const handle = await open(source, 'r');
    await handle.sync().finally(() => handle.close());
    const tmp = tempFor(file);
    try {
      await linkInFreshDir(source, tmp);
    } catch (err) {
      if (!NO_LINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      return this.put(key, createReadStream(source), options);
    }
    await moveIntoPlace(tmp, file, sidecar);
    // rename(2) does nothing when both names are links to one file (the same file stored again),
    // and then the temp name is still there.
    await unlink(tmp).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject> {
    const file = this.fileFor(key);
    if (range) checkRange(range);
    // Reading through the handle we stat keeps size and bytes from one version across a concurrent put.
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') throw new ObjectNotFoundError(key);
      throw err;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new ObjectNotFoundError(key);
      const size = stats.size;
      const meta = await this.readSidecar(key, file);
      if (!range) {
        return { body: handle.createReadStream(), size, contentLength: size, ...meta };
      }
      if (range.start >= size) throw new RangeNotSatisfiableError(key, size);
      const end = Math.min(range.end ?? size - 1, size - 1);
      const body = handle.createReadStream({ start: range.start, end });
      return { body, size, contentLength: end - range.start + 1, range: { start: range.start, end }, ...meta };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async head(key: string): Promise<{ size: number; contentType?: string } | null> {
    const file = this.fileFor(key);
    let stats: Stats;
    try {
      stats = await stat(file);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    if (!stats.isFile()) return null;
    const { contentType } = await this.readSidecar(key, file);
    return { size: stats.size, contentType };
  }

  async remove(key: string): Promise<void> {
    const file = this.fileFor(key);
    await rm(file, { force: true });
    await rm(sidecarFor(file), { force: true });
    // Prune directories the removal left empty, so a deleted VOD leaves no tree of empty folders.
    for (let dir = path.dirname(file); dir !== this.root; dir = path.dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    if (prefix.includes('\\') || prefix.includes('\0') || prefix.startsWith('/') || prefix.split('/').includes('..')) {
      throw new Error(`invalid storage prefix ${JSON.stringify(prefix)}`);
    }
    // Walk only the deepest directory the prefix names in full, then filter on the rest.
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const found: ObjectInfo[] = [];
    await this.walk(path.join(this.root, dirKey), dirKey, found);
    return found.filter((o) => o.key.startsWith(prefix)).sort(byKeyBytes);
  }

  publicUrl(key: string): string | null {
    if (this.publicBaseUrl === null) return null;
    return `${this.publicBaseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const probe = path.join(this.root, `.ping-${randomBytes(6).toString('hex')}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  }

  async close(): Promise<void> {}

  private fileFor(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private async readSidecar(key: string, file: string): Promise<{ contentType: string; cacheControl?: string }> {
    let sidecar: Sidecar = {};
    let text: string | null = null;
    try {
      text = await readFile(sidecarFor(file), 'utf8');
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    // A sidecar is not fsynced (see writeAtomically): after a crash it may be empty, and then the
    // object is served with its guessed type rather than not at all.
    if (text) {
      try {
        sidecar = JSON.parse(text) as Sidecar;
      } catch {
        // torn: keep the defaults
      }
    }
    return { contentType: sidecar.contentType ?? guessContentType(key), cacheControl: sidecar.cacheControl };
  }

  private async walk(dir: string, dirKey: string, into: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await this.walk(full, `${dirKey}${entry.name}/`, into);
      } else if (entry.isFile()) {
        try {
          into.push({ key: dirKey + entry.name, size: (await stat(full)).size });
        } catch (err) {
          if (!isMissing(err)) throw err; // removed while we walked
        }
      }
    }
  }

  /**
   * Temp file in the target's directory, fsync, rename: readers see the old or the new object,
   * never half. A sidecar goes in first through a temp file of its own, not fsynced (it only
   * carries headers, and readSidecar falls back to the guessed type), and one directory fsync
   * makes both renames durable.
   */
  private async writeAtomically(file: string, body: Buffer | string | Readable, sidecar: string | null): Promise<void> {
    const tmp = tempFor(file);
    const handle = await openInFreshDir(tmp);
    // The archiver deletes its local copy once put resolves, so the bytes must be on disk by then.
    try {
      if (body instanceof Readable) {
        // The stream owns the handle from here: it fsyncs (flush) and closes it, on error too.
        await pipeline(body, handle.createWriteStream({ flush: true }));
      } else {
        await handle.writeFile(body);
        await handle.sync();
      }
    } catch (err) {
      await handle.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    await moveIntoPlace(tmp, file, sidecar);
  }
}

/** The sidecar a put with `options` needs, as JSON: only what the extension cannot tell. Null: none (a stale one from an earlier put must go). */
function sidecarText(key: string, options: PutOptions): string | null {
  const contentType = options.contentType ?? guessContentType(key);
  if (contentType === guessContentType(key) && options.cacheControl === undefined) return null;
  const sidecar: Sidecar = { contentType, cacheControl: options.cacheControl };
  return JSON.stringify(sidecar);
}

/**
 * The sidecar (when there is one), then the object from `tmp`, renamed into place; one directory
 * fsync makes both durable. Without a sidecar, a stale one from an earlier put goes.
 */
async function moveIntoPlace(tmp: string, file: string, sidecar: string | null): Promise<void> {
  try {
    if (sidecar !== null) {
      const sidecarFile = sidecarFor(file);
      const sidecarTmp = tempFor(sidecarFile);
      try {
        await writeFile(sidecarTmp, sidecar, { flag: 'wx' });
        await rename(sidecarTmp, sidecarFile);
      } catch (err) {
        await rm(sidecarTmp, { force: true });
        throw err;
      }
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The renames themselves are only durable once the directory entry is flushed too.
  const dirHandle = await open(path.dirname(file), 'r');
  await dirHandle.sync().finally(() => dirHandle.close());
  if (sidecar === null) await rm(sidecarFor(file), { force: true });
}

// The directory usually exists already, so it is made only when the open says it is missing; a
// concurrent remove() may also prune it between our mkdir and open, and then it is made again.
async function openInFreshDir(file: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 4) throw err;
    }
    await mkdir(path.dirname(file), { recursive: true });
  }
}

/** link(2)'s errors that mean "copy instead": another file system, one without hard links, or a file with too many links already. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK']);

// As openInFreshDir: the source exists (it was just opened), so ENOENT means the target's directory is missing.
async function linkInFreshDir(source: string, target: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await link(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 4) throw err;
    }
    await mkdir(path.dirname(target), { recursive: true });
  }
}

// Unique per process and put without asking the kernel for randomness each time; 'wx' refuses a clash.
const TEMP_TAG = randomBytes(6).toString('hex');
let tempCount = 0;
function tempFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${TEMP_TAG}${(tempCount++).toString(36)}.tmp`);
}

function sidecarFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);
}

function checkRange(range: ByteRange): void {
  const ok =
    Number.isSafeInteger(range.start) &&
    range.start >= 0 &&
    (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok) throw new RangeError(`invalid byte range ${JSON.stringify(range)}`);
}
