// Stream keys: random, RTMP-path safe ([A-Za-z0-9_-]), looked up by HMAC and kept encrypted so the
// owner can see theirs again. A database dump without the server secret reveals neither.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'live_';
export const STREAM_KEY_PATTERN = /^live_[A-Za-z0-9_-]{43}$/;

export function generateStreamKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function streamKeyHash(hmacKey: Buffer, streamKey: string): string {
  return createHmac('sha256', hmacKey).update(streamKey).digest('hex');
}

/** AES-256-GCM; output is base64url(iv | tag | ciphertext). */
export function encryptStreamKey(cipherKey: Buffer, streamKey: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', cipherKey, iv);
  const body = Buffer.concat([cipher.update(streamKey, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function decryptStreamKey(cipherKey: Buffer, stored: string): string {
  const raw = Buffer.from(stored, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', cipherKey, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
