// The only file that imports tus: a tus 1.0 server (core, creation, creation-with-upload,
// termination, expiration) from @tus/server, storing bytes with @tus/file-store on local disk or
// @tus/s3-store as S3 multipart parts (constant memory per upload; nothing on the app's disk but the
// part being buffered). Upload ids are 32 hex characters; the stored key is `uploads/<id>`, so S3
// objects (`uploads/<id>`, `.info`, `.part`) sit under one prefix a bucket lifecycle rule can name.
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import { EVENTS, Server, type Upload } from '@tus/server';
import type { S3Config } from '../src/config.ts';

export const UPLOAD_KEY_PREFIX = 'uploads/';
const ID = /^[0-9a-f]{32}$/;

export type TusStorage = { kind: 'local'; directory: string } | { kind: 's3'; s3: S3Config };

/** What the hooks see of an upload. */
export interface TusUpload {
  /** the 32-hex id in the upload URL */
  id: string;
  size: number | undefined;
  offset: number;
}

/** Thrown by a hook to refuse a request: sent as-is (status and JSON body) to the client. */
export class TusRefusal extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(body);
  }
}

export interface TusUploadsOptions {
  storage: TusStorage;
  /** the URL path uploads are created at, e.g. /api/v1/uploads */
  path: string;
  publicUrl: string;
  maxBytes: number;
  expiryMs: number;
  /** Before the upload exists (and before any byte is read): throw TusRefusal to refuse. */
  onCreate(req: IncomingMessage, upload: TusUpload): Promise<void>;
  /** Once the last byte is stored, before the client is answered. */
  onFinish(upload: TusUpload): Promise<void>;
  /** Every few seconds while bytes arrive. */
  onProgress(upload: TusUpload): void;
  /** With S3: deletes one object of the bucket (absent is not an error), for what tus leaves behind. */
  removeObject?: (key: string) => Promise<void>;
}

export class TusUploads {
  private readonly server: Server;
  private readonly datastore: FileStore | S3Store;
  private readonly ready: Promise<unknown>;

  constructor(private readonly opts: TusUploadsOptions) {
    const { storage } = opts;
    const datastore = (this.datastore =
      storage.kind === 'local'
        ? new FileStore({ directory: storage.directory, expirationPeriodInMilliseconds: opts.expiryMs })
        : new S3Store({
            partSize: 8 * 1024 * 1024,
            expirationPeriodInMilliseconds: opts.expiryMs,
            s3ClientConfig: {
              bucket: storage.s3.bucket,
              region: storage.s3.region,
              endpoint: storage.s3.endpoint ?? undefined,
              forcePathStyle: storage.s3.forcePathStyle,
              // Parts are streams of unknown length: with the SDK's default (checksums whenever
              // supported) they go up as aws-chunked bodies with CRC trailers, which many
              // S3-compatible servers store verbatim, chunk headers and all. Checksums only where
              // the API requires them keeps plain bodies everywhere.
              requestChecksumCalculation: 'WHEN_REQUIRED',
              responseChecksumValidation: 'WHEN_REQUIRED',
              credentials:
                storage.s3.accessKeyId && storage.s3.secretAccessKey ? { accessKeyId: storage.s3.accessKeyId, secretAccessKey: storage.s3.secretAccessKey } : undefined,
            },
          }));
    this.ready = storage.kind === 'local' ? mkdir(path.join(storage.directory, 'uploads'), { recursive: true }) : Promise.resolve();
    const publicOrigin = opts.publicUrl ? new URL(opts.publicUrl).origin : null;
    const view = (u: Upload): TusUpload => ({ id: u.id.slice(UPLOAD_KEY_PREFIX.length), size: u.size, offset: u.offset });
    this.server = new Server({
      path: opts.path,
      datastore,
      maxSize: opts.maxBytes,
      postReceiveInterval: 2000,
      // The page uploads from its own origin; other sites' pages get no CORS grant (tus's default is *).
      allowedOrigins: (origin) => origin === publicOrigin,
      namingFunction: () => `${UPLOAD_KEY_PREFIX}${randomBytes(16).toString('hex')}`,
      generateUrl: (_req, { path: base, id }) => `${opts.publicUrl}${base}/${id.slice(UPLOAD_KEY_PREFIX.length)}`,
      getFileIdFromRequest: (_req, last) => (last && ID.test(last) ? `${UPLOAD_KEY_PREFIX}${last}` : undefined),
      onUploadCreate: async (req, upload) => {
        try {
          await opts.onCreate(nodeRequest(req), view(upload));
        } catch (err) {
          if (err instanceof TusRefusal) throw { status_code: err.status, body: err.body };
          throw err;
        }
        return {};
      },
      onUploadFinish: async (_req, upload) => {
        await opts.onFinish(view(upload));
        return {};
      },
    });
    this.server.on(EVENTS.POST_RECEIVE, (_stream: unknown, upload: Upload) => opts.onProgress(view(upload)));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.ready;
    await this.server.handle(req, res);
  }

  /** The finished upload's bytes. */
  async read(id: string): Promise<Readable> {
    return (await this.datastore.read(`${UPLOAD_KEY_PREFIX}${id}`)) as Readable;
  }

  /** Bytes stored so far, or null when there is no such upload. */
  async offset(id: string): Promise<number | null> {
    try {
      return (await this.server.datastore.getUpload(`${UPLOAD_KEY_PREFIX}${id}`)).offset;
    } catch {
      return null;
    }
  }

  /** Removes the upload and everything stored for it; an absent one is not an error. */
  async remove(id: string): Promise<void> {
    const key = `${UPLOAD_KEY_PREFIX}${id}`;
    try {
      await this.server.datastore.remove(key);
    } catch (err) {
      if ((err as { status_code?: number }).status_code !== 404) throw err;
    }
    // @tus/s3-store aborts the multipart upload first and, for a finished one (S3 answers
    // NoSuchUpload), gives up before deleting the object and its .info: they go here.
    if (this.opts.removeObject) for (const suffix of ['', '.info', '.part']) await this.opts.removeObject(`${key}${suffix}`);
  }
}

function nodeRequest(req: unknown): IncomingMessage {
  const node = (req as { runtime?: { node?: { req: IncomingMessage } } }).runtime?.node?.req;
  if (!node) throw new Error('tus request without its Node request');
  return node;
}
