// Storage on any S3 API (AWS, MinIO, R2, …). Streams go up with lib-storage's Upload, which turns
// anything larger than one part into a multipart upload without holding the whole body in memory.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { guessContentType } from './content-type.ts';
import {
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
  type Storage,
  type StoredObject,
} from './storage.ts';

export interface S3StorageOptions {
  bucket: string;
  endpoint?: string | null;
  region: string;
  accessKeyId?: string | null;
  secretAccessKey?: string | null;
  forcePathStyle: boolean;
  publicBaseUrl?: string | null;
  /** Multipart part size in bytes; S3 refuses parts under 5 MiB. */
  partSize?: number;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

export class S3Storage implements Storage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly publicBaseUrl: string | null;

  constructor(opts: S3StorageOptions) {
    this.bucket = opts.bucket;
    this.partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    this.publicBaseUrl = opts.publicBaseUrl ? opts.publicBaseUrl.replace(/\/+$/, '') : null;
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint ?? undefined,
      forcePathStyle: opts.forcePathStyle,
      // Without explicit keys the SDK's default chain (env, profile, instance role) applies.
      credentials:
        opts.accessKeyId && opts.secretAccessKey
          ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
          : undefined,
      // The SDK waits forever by default. connectionTimeout makes an unreachable endpoint fail in
      // seconds; socketTimeout is an idle limit, so a slow but moving 8 MiB part is never cut off.
      requestHandler: { connectionTimeout: 3_000, socketTimeout: 30_000 },
    });
  }

  async put(key: string, body: Buffer | string | Readable, options: PutOptions = {}): Promise<void> {
    const params = {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: options.contentType ?? guessContentType(key),
      CacheControl: options.cacheControl,
    };
    if (body instanceof Readable) {
      await new Upload({ client: this.client, params, partSize: this.partSize, queueSize: 2 }).done();
    } else {
      await this.client.send(new PutObjectCommand(params));
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject> {
    if (range) checkRange(range);
    let out;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        }),
      );
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === 'NoSuchKey') throw new ObjectNotFoundError(key);
      if (statusOf(err) === 416 || nameOf(err) === 'InvalidRange') {
        throw new RangeNotSatisfiableError(key, (await this.head(key))?.size ?? 0);
      }
      throw err;
    }
    if (!(out.Body instanceof Readable)) throw new Error(`S3 returned no readable body for ${key}`);
    const contentLength = out.ContentLength ?? 0;
    const served = parseContentRange(out.ContentRange);
    const meta = { contentType: out.ContentType, cacheControl: out.CacheControl };
    if (served) {
      return { body: out.Body, size: served.size, contentLength, ...meta, range: { start: served.start, end: served.end } };
    }
    // A server may answer a range that covers the whole object with a plain 200.
    const whole = range && contentLength > 0 ? { start: 0, end: contentLength - 1 } : undefined;
    return { body: out.Body, size: contentLength, contentLength, ...meta, ...(whole && { range: whole }) };
  }

  async head(key: string): Promise<{ size: number; contentType?: string } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, contentType: out.ContentType };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) found.push({ key: o.Key, size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  publicUrl(key: string): string | null {
    if (this.publicBaseUrl === null) return null;
    return `${this.publicBaseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string }).name;
}

/** `bytes 0-99/1234` → served range and full size. */
function parseContentRange(header: string | undefined): { start: number; end: number; size: number } | null {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header) : null;
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) };
}

function checkRange(range: ByteRange): void {
  const ok =
    Number.isSafeInteger(range.start) &&
    range.start >= 0 &&
    (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok) throw new RangeError(`invalid byte range ${JSON.stringify(range)}`);
}
