// Who this node is among several sharing one database: NODE_ID, or an id generated once into
// DATA_DIR/node-id, so a restarted node recognises its own interrupted sessions (and only those);
// and the internal URL other nodes proxy its streams' playlists and media to.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function loadNodeId(configured: string | null, dataDir: string): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, 'node-id');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!NODE_ID.test(text)) throw new Error(`${file} is corrupt: expected 1 to 64 letters, digits, - or _`);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const id = `node-${randomBytes(6).toString('hex')}`;
  // 'wx' fails if another process (an external archiver on the same DATA_DIR) wrote it first.
  try {
    await writeFile(file, id + '\n', { flag: 'wx' });
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadNodeId(null, dataDir);
    throw err;
  }
}

/** NODE_URL when set; else the bound address, with loopback standing for a wildcard bind. */
export function nodeUrlFor(configured: string | null, host: string, port: number): string {
  if (configured) return configured;
  const reachable = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
