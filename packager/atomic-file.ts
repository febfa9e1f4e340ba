// Media files appear whole or not at all: nginx and the archiver may read a name the moment it
// exists, so every file is written beside its final name and renamed into place.
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(file: string, data: Buffer | Buffer[]): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, Array.isArray(data) ? Buffer.concat(data) : data);
  await rename(tmp, file);
}
