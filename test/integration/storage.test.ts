// One contract for both Storage implementations: local directory and S3 (s3rver, a real S3 API).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { ObjectNotFoundError, RangeNotSatisfiableError, type Storage } from '../../src/storage/storage.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { tempDir } from '../helpers/services.ts';

// The type tap gives a subtest's callback (tap exports no name for it).
type Test = Parameters<Parameters<typeof t.test>[0]>[0];
type MakeStorage = (t: Test, opts?: { publicBaseUrl?: string | null }) => Promise<Storage>;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function text(storage: Storage, key: string): Promise<string> {
  return (await readAll((await storage.get(key)).body)).toString();
}

/** `size` pseudo-random bytes as a stream of 1 MiB chunks, and the sha256 of all of them. */
function randomStream(size: number): { stream: Readable; sha256: string } {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for (let left = size; left > 0; left -= 1 << 20) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { stream: Readable.from(chunks), sha256: hash.digest('hex') };
}

/** A stream that sends some bytes and then fails, like an upload source dying half way. */
function failingStream(): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from('partial ');
      throw new Error('source died');
    })(),
  );
}

function storageContract(parent: Test, name: string, make: MakeStorage): void {
  parent.test(`${name}: storage contract`, async (t) => {
    t.test('Buffer, string and stream bodies come back unchanged', async (t) => {
      const storage = await make(t);
      const bytes = randomBytes(1000);
      await storage.put('bodies/buffer.bin', bytes);
      await storage.put('bodies/string.txt', 'héllo, wörld');
      await storage.put('bodies/stream.bin', Readable.from([Buffer.from('one '), Buffer.from('two')]));

      const got = await storage.get('bodies/buffer.bin');
      t.equal(got.size, 1000);
      t.equal(got.contentLength, 1000);
      t.equal(got.range, undefined, 'no range when none was asked for');
      t.ok((await readAll(got.body)).equals(bytes));
      t.equal(await text(storage, 'bodies/string.txt'), 'héllo, wörld');
      t.equal((await storage.head('bodies/string.txt'))?.size, Buffer.byteLength('héllo, wörld'), 'size in bytes, not characters');
      t.equal(await text(storage, 'bodies/stream.bin'), 'one two');
    });

    t.test('a put replaces the object, and a failed stream leaves the old one', async (t) => {
      const storage = await make(t);
      await storage.put('replace/a.txt', 'a much longer first version');
      await storage.put('replace/a.txt', 'second');
      t.equal(await text(storage, 'replace/a.txt'), 'second');
      t.equal((await storage.head('replace/a.txt'))?.size, 6);

      await t.rejects(storage.put('replace/a.txt', failingStream()), /source died/);
      t.equal(await text(storage, 'replace/a.txt'), 'second');
      await t.rejects(storage.put('replace/new.txt', failingStream()), /source died/);
      t.equal(await storage.head('replace/new.txt'), null, 'no half-written object appears');
      t.same(
        (await storage.list('replace/')).map((o) => o.key),
        ['replace/a.txt'],
      );
    });

    t.test('content type and cache control round-trip; a missing type is guessed from the extension', async (t) => {
      const storage = await make(t);
      await storage.put('types/notes.txt', 'x', { contentType: 'text/plain; charset=utf-8', cacheControl: 'public, max-age=31536000, immutable' });
      const got = await storage.get('types/notes.txt');
      await readAll(got.body);
      t.equal(got.contentType, 'text/plain; charset=utf-8');
      t.equal(got.cacheControl, 'public, max-age=31536000, immutable');
      t.equal((await storage.head('types/notes.txt'))?.contentType, 'text/plain; charset=utf-8');

      const guesses: Record<string, string> = {
        'types/index.m3u8': 'application/vnd.apple.mpegurl',
        'types/seg-1.m4s': 'video/iso.segment',
        'types/init.mp4': 'video/mp4',
        'types/thumb.jpg': 'image/jpeg',
        'types/sprites.vtt': 'text/vtt',
        'types/chat.json': 'application/json',
      };
      for (const [key, type] of Object.entries(guesses)) {
        await storage.put(key, 'x');
        t.equal((await storage.head(key))?.contentType, type, key);
      }

      // Replacing without options must not keep the earlier object's type or cache policy.
      await storage.put('types/index.m3u8', 'x', { contentType: 'text/plain', cacheControl: 'no-cache' });
      await storage.put('types/index.m3u8', 'y');
      const replaced = await storage.get('types/index.m3u8');
      await readAll(replaced.body);
      t.equal(replaced.contentType, 'application/vnd.apple.mpegurl');
      t.equal(replaced.cacheControl, undefined);
    });

    t.test('byte ranges', async (t) => {
      const storage = await make(t);
      const bytes = randomBytes(100);
      await storage.put('ranges/obj.bin', bytes);

      const middle = await storage.get('ranges/obj.bin', { start: 10, end: 19 });
      t.ok((await readAll(middle.body)).equals(bytes.subarray(10, 20)), 'start-end is inclusive');
      t.same({ size: middle.size, contentLength: middle.contentLength, range: middle.range }, { size: 100, contentLength: 10, range: { start: 10, end: 19 } });

      const tail = await storage.get('ranges/obj.bin', { start: 90 });
      t.ok((await readAll(tail.body)).equals(bytes.subarray(90)), 'open-ended range runs to the end');
      t.same({ size: tail.size, contentLength: tail.contentLength, range: tail.range }, { size: 100, contentLength: 10, range: { start: 90, end: 99 } });

      const clamped = await storage.get('ranges/obj.bin', { start: 95, end: 500 });
      t.ok((await readAll(clamped.body)).equals(bytes.subarray(95)), 'an end past the object is clamped');
      t.same(clamped.range, { start: 95, end: 99 });

      for (const start of [100, 5000]) {
        const err = await storage.get('ranges/obj.bin', { start }).catch((e: unknown) => e);
        t.ok(err instanceof RangeNotSatisfiableError, `start ${start} is not satisfiable`);
        t.equal((err as RangeNotSatisfiableError).size, 100, 'the error carries the real size (for Content-Range: */size)');
      }
    });

    t.test('absent objects', async (t) => {
      const storage = await make(t);
      const err = await storage.get('absent/nothing.m4s').catch((e: unknown) => e);
      t.ok(err instanceof ObjectNotFoundError);
      t.equal((err as ObjectNotFoundError).key, 'absent/nothing.m4s');
      t.ok((await storage.get('absent/nothing.m4s', { start: 0 }).catch((e: unknown) => e)) instanceof ObjectNotFoundError);
      t.equal(await storage.head('absent/nothing.m4s'), null);
      await storage.put('absent/dir/file.txt', 'x');
      t.ok((await storage.get('absent/dir').catch((e: unknown) => e)) instanceof ObjectNotFoundError, 'a "directory" is not an object');
      t.equal(await storage.head('absent/dir'), null);
    });

    t.test('list by prefix', async (t) => {
      const storage = await make(t);
      const objects: Record<string, string> = {
        'vods/a/seg-2.m4s': '22',
        'vods/a/seg-10.m4s': '1010',
        'vods/a/index.m3u8': '#EXTM3U',
        'vods/ab/other.m4s': 'o',
        'vods/b/seg-1.m4s': '1',
        'vodsx.txt': 'x',
      };
      for (const [key, body] of Object.entries(objects)) await storage.put(key, body, { contentType: 'text/plain' });

      t.same(await storage.list('vods/a/'), [
        { key: 'vods/a/index.m3u8', size: 7 },
        { key: 'vods/a/seg-10.m4s', size: 4 },
        { key: 'vods/a/seg-2.m4s', size: 2 },
      ]);
      t.same(
        (await storage.list('vods/a')).map((o) => o.key),
        ['vods/a/index.m3u8', 'vods/a/seg-10.m4s', 'vods/a/seg-2.m4s', 'vods/ab/other.m4s'],
        'the prefix is a plain string prefix, not a directory',
      );
      t.same(
        (await storage.list('vods/a/seg-1')).map((o) => o.key),
        ['vods/a/seg-10.m4s'],
      );
      // Every object here has a non-default type, so a LocalStorage sidecar sits beside each one.
      t.same(
        (await storage.list('vods')).map((o) => o.key),
        ['vods/a/index.m3u8', 'vods/a/seg-10.m4s', 'vods/a/seg-2.m4s', 'vods/ab/other.m4s', 'vods/b/seg-1.m4s', 'vodsx.txt'],
        'metadata kept beside objects never shows up as an object',
      );
      t.same(await storage.list('nothing/'), []);
    });

    t.test('remove', async (t) => {
      const storage = await make(t);
      await storage.put('rm/a/one.m4s', '1');
      await storage.put('rm/a/two.m4s', '2', { contentType: 'text/plain' });
      await storage.remove('rm/a/one.m4s');
      t.ok((await storage.get('rm/a/one.m4s').catch((e: unknown) => e)) instanceof ObjectNotFoundError);
      t.same(await storage.list('rm/'), [{ key: 'rm/a/two.m4s', size: 1 }]);
      await storage.remove('rm/a/one.m4s');
      await storage.remove('rm/never/was.m4s');
      await storage.remove('rm/a/two.m4s');
      t.same(await storage.list('rm/'), []);
      await storage.put('rm/a/two.m4s', 'again');
      t.equal(await text(storage, 'rm/a/two.m4s'), 'again', 'a removed key can be written again');
      t.equal((await storage.head('rm/a/two.m4s'))?.contentType, 'video/iso.segment', 'no metadata survives removal');
    });

    t.test('publicUrl', async (t) => {
      t.equal((await make(t)).publicUrl('vods/1/index.m3u8'), null, 'no base: serve through the app');
      const cdn = await make(t, { publicBaseUrl: 'https://cdn.example.com/rec/' });
      t.equal(cdn.publicUrl('vods/1/index.m3u8'), 'https://cdn.example.com/rec/vods/1/index.m3u8');
      t.equal(cdn.publicUrl('vods/1/a b#.jpg'), 'https://cdn.example.com/rec/vods/1/a%20b%23.jpg');
    });

    t.test('ping', async (t) => {
      await t.resolves((await make(t)).ping());
    });
  });
}

storageContract(t, 'LocalStorage', async (t, opts = {}) => {
  const storage = new LocalStorage({ root: await tempDir(t, 'storage'), ...opts });
  t.teardown(() => storage.close());
  return storage;
});

t.test('S3Storage', async (t) => {
  const s3 = await startS3Server(t);
  const make: MakeStorage = async (t, opts = {}) => {
    const storage = new S3Storage({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
      ...opts,
    });
    t.teardown(() => storage.close());
    return storage;
  };

  // Each test uses its own keys, so one server serves the whole suite.
  storageContract(t, 'S3Storage', make);

  t.test('a 20 MiB stream goes up in parts and comes back byte-identical', async (t) => {
    const storage = await make(t);
    const { stream, sha256 } = randomStream(20 * 1024 * 1024);
    await storage.put('big/recording.mp4', stream);
    const got = await storage.get('big/recording.mp4');
    t.equal(got.size, 20 * 1024 * 1024);
    t.equal(got.contentType, 'video/mp4');
    const hash = createHash('sha256');
    for await (const chunk of got.body) hash.update(chunk as Buffer);
    t.equal(hash.digest('hex'), sha256);
  });

  t.test('ping fails fast while the server is down and recovers after it returns', async (t) => {
    const storage = await make(t);
    await storage.ping();
    await s3.stop();
    const started = Date.now();
    await t.rejects(storage.ping());
    t.ok(Date.now() - started < 5_000, `rejected in ${Date.now() - started} ms`);
    await s3.restart();
    await t.resolves(storage.ping());
    t.equal((await storage.head('big/recording.mp4'))?.size, 20 * 1024 * 1024, 'data survives the restart');
  });
});

t.test('LocalStorage: keys cannot escape the root', async (t) => {
  const parent = await tempDir(t, 'storage-parent');
  const storage = new LocalStorage({ root: path.join(parent, 'root') });
  const bad = ['', '/etc/passwd', '../outside.txt', 'a/../../outside.txt', 'a/..', 'a\\..\\outside.txt', 'a\0b', 'a//b', './a', 'a/.hidden', 'a/'];
  for (const key of bad) {
    await t.rejects(storage.put(key, 'x'), /invalid storage key/, `put ${JSON.stringify(key)}`);
    await t.rejects(storage.get(key), /invalid storage key/, `get ${JSON.stringify(key)}`);
    await t.rejects(storage.head(key), /invalid storage key/, `head ${JSON.stringify(key)}`);
    await t.rejects(storage.remove(key), /invalid storage key/, `remove ${JSON.stringify(key)}`);
  }
  await t.rejects(storage.list('../'), /invalid storage prefix/);
  t.same(await readdir(parent), [], 'nothing was written outside the root (nor the root itself)');
});

t.test('LocalStorage: files sit at their key under the root, and removal prunes empty folders', async (t) => {
  const root = await tempDir(t, 'storage');
  const storage = new LocalStorage({ root });
  await storage.put('vods/7/720p/seg-1.m4s', 'segment', { cacheControl: 'public, max-age=31536000, immutable' });
  // A web server pointed at the root must find the object at the same path as the key.
  t.equal(await readFile(path.join(root, 'vods/7/720p/seg-1.m4s'), 'utf8'), 'segment');
  await storage.put('vods/8/index.m3u8', '#EXTM3U');
  await storage.remove('vods/7/720p/seg-1.m4s');
  t.same(await readdir(root), ['vods']);
  t.same(await readdir(path.join(root, 'vods')), ['8'], 'the emptied vods/7 tree is gone');
});

t.test('LocalStorage: a put leaves no temp file, and a sidecar torn by a crash still serves the object', async (t) => {
  const root = await tempDir(t, 'storage');
  const storage = new LocalStorage({ root });
  await storage.put('vods/9/720p/seg-1.m4s', 'segment', { cacheControl: 'public, max-age=31536000, immutable' });
  await storage.put('vods/9/720p/seg-1.m4s', 'segment again', { cacheControl: 'public, max-age=31536000, immutable' });
  t.same(await readdir(path.join(root, 'vods/9/720p')), ['.seg-1.m4s.meta.json', 'seg-1.m4s'], 'the object and its sidecar, no temp files');
  // The sidecar is not fsynced: after a power loss it can be empty or cut short.
  for (const torn of ['', '{"contentType":"vid']) {
    await writeFile(path.join(root, 'vods/9/720p/.seg-1.m4s.meta.json'), torn);
    const got = await storage.get('vods/9/720p/seg-1.m4s');
    t.equal((await readAll(got.body)).toString(), 'segment again', `served with a sidecar of ${JSON.stringify(torn)}`);
    t.equal(got.contentType, 'video/iso.segment', 'with the type its extension gives');
    t.equal(got.cacheControl, undefined, 'and no cache policy');
  }
});

t.test('LocalStorage: putLocalFile stores a file without copying its bytes, and copies it from another file system', async (t) => {
  const root = await tempDir(t, 'storage');
  const live = await tempDir(t, 'storage-live');
  const storage = new LocalStorage({ root });
  const immutable = { cacheControl: 'public, max-age=31536000, immutable' };
  const first = path.join(live, 'seg-1.m4s');
  await writeFile(first, 'first segment');
  await storage.putLocalFile('vods/3/720p/seg-1.m4s', first, immutable);
  const got = await storage.get('vods/3/720p/seg-1.m4s');
  t.equal((await readAll(got.body)).toString(), 'first segment');
  t.equal(got.contentType, 'video/iso.segment');
  t.equal(got.cacheControl, immutable.cacheControl, 'the options are kept as for put');
  const object = path.join(root, 'vods/3/720p/seg-1.m4s');
  t.equal((await stat(object)).ino, (await stat(first)).ino, 'the object is the live file itself: recording does not double its disk use');

  // Stored again (a restart uploads what it had not journaled): the object is unchanged and no temp name is left.
  await storage.putLocalFile('vods/3/720p/seg-1.m4s', first, immutable);
  t.same(await readdir(path.join(root, 'vods/3/720p')), ['.seg-1.m4s.meta.json', 'seg-1.m4s'], 'the same file stored twice leaves no temp file');
  t.equal(await text(storage, 'vods/3/720p/seg-1.m4s'), 'first segment');

  // The live copy goes once it leaves the live window; the stored object stays.
  await unlink(first);
  t.equal(await text(storage, 'vods/3/720p/seg-1.m4s'), 'first segment', 'the object outlives the file it came from');

  const second = path.join(live, 'seg-1-again.m4s');
  await writeFile(second, 'replacement');
  await storage.putLocalFile('vods/3/720p/seg-1.m4s', second, immutable);
  t.equal(await text(storage, 'vods/3/720p/seg-1.m4s'), 'replacement', 'a second put replaces the object');
  t.same(await readdir(path.join(root, 'vods/3/720p')), ['.seg-1.m4s.meta.json', 'seg-1.m4s'], 'no temp files are left');

  await t.rejects(storage.putLocalFile('vods/3/720p/seg-2.m4s', path.join(live, 'absent.m4s')), { code: 'ENOENT' }, 'a missing file is an error');
  t.equal(await storage.head('vods/3/720p/seg-2.m4s'), null, 'and stores nothing');

  // /dev/shm is a tmpfs: a hard link to it from the storage root cannot be made.
  const elsewhere = await mkdtemp('/dev/shm/spillway-storage-');
  t.teardown(() => rm(elsewhere, { recursive: true, force: true }));
  t.not((await stat(elsewhere)).dev, (await stat(root)).dev, '/dev/shm is another file system than the storage root');
  const shm = path.join(elsewhere, 'seg-4.m4s');
  await writeFile(shm, 'from another file system');
  await storage.putLocalFile('vods/3/720p/seg-4.m4s', shm, immutable);
  t.equal(await text(storage, 'vods/3/720p/seg-4.m4s'), 'from another file system', 'it is copied instead');
  const copied = await storage.get('vods/3/720p/seg-4.m4s');
  await readAll(copied.body);
  t.equal(copied.cacheControl, immutable.cacheControl);
});
