// Picks the storage the config asks for: S3 when S3_BUCKET is set, else a directory under DATA_DIR.
import path from 'node:path';
import type { Config } from '../config.ts';
import { LocalStorage } from './local-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

export function createStorage(config: Config): Storage {
  if (config.s3 === null) {
    return new LocalStorage({ root: path.join(config.dataDir, 'storage'), publicBaseUrl: config.cdnUrl });
  }
  return new S3Storage({ ...config.s3, publicBaseUrl: config.cdnUrl });
}
