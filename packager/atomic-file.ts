// Media files appear whole or not at all: nginx and the archiver may read a name the moment it
// exists, so every file is written beside its final name and renamed into place.
//
// Written with the callback fs API and writev: five parts a second per rendition made
// fs/promises' FileHandle objects (and the copy that joined a segment's parts) one of the live
// path's largest CPU costs.
import { randomBytes } from 'node:crypto';
import { close, open, rename, unlink, writev } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const openFile = promisify(open);
const writevFile = promisify(writev);
const closeFile = promisify(close);
const renameFile = promisify(rename);
const unlinkFile = promisify(unlink);

export async function writeFileAtomic(file: string, data: Buffer | Buffer[]): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = await openFile(tmp, 'w');
  try {
    let buffers = Array.isArray(data) ? data : [data];
    // writev may write less than asked (a full disk, a signal): carry on from where it stopped
    while (buffers.length > 0) {
      let { bytesWritten: written } = await writevFile(fd, buffers);
      const rest: Buffer[] = [];
      for (const b of buffers) {
        if (written >= b.length) written -= b.length;
        else {
          rest.push(b.subarray(written));
          written = 0;
        }
      }
      if (rest.length === buffers.length && rest.every((b, i) => b.length === buffers[i]!.length)) throw new Error(`writev wrote nothing to ${tmp}`);
      buffers = rest;
    }
  } catch (err) {
    await closeFile(fd).catch(() => {});
    await unlinkFile(tmp).catch(() => {});
    throw err;
  }
  await closeFile(fd);
  await renameFile(tmp, file);
}
