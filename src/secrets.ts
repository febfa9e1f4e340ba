// The server secret signs access tokens and protects stream keys. It comes from SECRET_KEY or is
// generated once into DATA_DIR/secret.key (mode 0600); purpose-specific keys are derived with HKDF
// so one leaked derived key does not expose the others.
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ServerKeys {
  jwt: Buffer;
  streamKeyHmac: Buffer;
  streamKeyCipher: Buffer;
  /** Encrypts webhook signing secrets at rest (social/). */
  webhookSecretCipher: Buffer;
  /** Hashes anonymous viewers (address and agent, or a cookie) for view counting, so neither is kept raw. */
  viewerHash: Buffer;
}

export function deriveKeys(secret: Buffer): ServerKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `spillway ${info}`, 32));
  return {
    jwt: derive('jwt'),
    streamKeyHmac: derive('stream-key-hmac'),
    streamKeyCipher: derive('stream-key-cipher'),
    webhookSecretCipher: derive('webhook-secret-cipher'),
    viewerHash: derive('viewer-hash'),
  };
}

export async function loadServerSecret(configured: Buffer | null, dataDir: string): Promise<Buffer> {
  if (configured) return configured;
  const file = path.join(dataDir, 'secret.key');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${file} is corrupt: expected 64 hex characters`);
    return Buffer.from(text, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  // 'wx' fails if another process created it first; then use theirs.
  try {
    await writeFile(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadServerSecret(null, dataDir);
    throw err;
  }
}
