// /api/v1/uploads: the tus endpoint, mounted on Fastify's raw request and response. Every request is
// authenticated with the access token (Authorization: Bearer) and an upload is reachable only by
// the owner of its channel (anyone else gets 404, as if it did not exist). A creation request is
// checked before any byte is read: file size, the channel's storage quota, uploads in progress and
// the metadata; each refusal is the API's usual JSON error with a stable code.
import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AccountService, PublicUser } from '../src/accounts/account-service.ts';
import { AppError, ERRORS, type ErrorCode } from '../src/errors.ts';
import { bearerToken } from '../src/http/auth-hook.ts';
import type { Logger } from '../src/log.ts';
import type { RateLimiter } from '../src/bus/rate-limiter.ts';
import type { StorageQuota } from './storage-quota.ts';
import { parseUploadMetadata, type UploadMetadata } from './upload-metadata.ts';
import type { UploadStore } from './upload-store.ts';
import { TusRefusal, type TusUpload } from './upload-tus.ts';

export interface UploadRoutesOptions {
  tus: { handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void>; remove(id: string): Promise<void> };
  store: UploadStore;
  quota: StorageQuota;
  accounts: AccountService;
  limiter: RateLimiter;
  channelOf(userId: string): Promise<string | null>;
  maxBytes: number;
  perUser: number;
  expiryMs: number;
  log: Logger;
}

/** What a checked creation request carries to the tus hook that creates the VOD row. */
const pending = new WeakMap<IncomingMessage, { vodId: string; channelId: string; meta: UploadMetadata }>();

/** Names the upload's VOD on every tus response, so a client (the upload page) can follow it. */
export const VOD_ID_HEADER = 'Spillway-Vod-Id';

// New uploads per account: a burst of 10, then one a minute.
const CREATE_RATE = { capacity: 10, refillPerSecond: 1 / 60 };

export function refusal(code: ErrorCode, message?: string): TusRefusal {
  return new TusRefusal(ERRORS[code].status, JSON.stringify({ error: { code, message: message ?? ERRORS[code].message } }));
}

/** The tus hook: creates the VOD row of an upload the route has checked. */
export function createUploadHook(opts: Pick<UploadRoutesOptions, 'store' | 'perUser' | 'expiryMs'>) {
  return async (req: IncomingMessage, upload: TusUpload): Promise<void> => {
    const checked = pending.get(req);
    if (!checked || upload.size === undefined) throw refusal('UPLOAD_LENGTH_REQUIRED');
    const created = await opts.store.create({
      vodId: checked.vodId,
      channelId: checked.channelId,
      uploadId: upload.id,
      size: upload.size,
      meta: checked.meta,
      expiresAt: new Date(Date.now() + opts.expiryMs),
      maxInProgress: opts.perUser,
    });
    if (!created) throw refusal('TOO_MANY_UPLOADS');
  };
}

export const uploadRoutes: FastifyPluginAsync<UploadRoutesOptions> = async (app, opts) => {
  // tus bodies are the file's bytes: leave the stream unread for the tus server.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null, undefined));

  const authenticate = async (request: FastifyRequest): Promise<PublicUser> => {
    const token = bearerToken(request);
    if (token === null) throw new AppError('UNAUTHENTICATED', 'Sign in to upload: send Authorization: Bearer <access token>.');
    return opts.accounts.authenticate(token);
  };

  const checkCreation = async (request: FastifyRequest, user: PublicUser): Promise<string> => {
    const channelId = await opts.channelOf(user.id);
    if (!channelId) throw new AppError('FORBIDDEN', 'This account has no channel to upload to.');
    const headers = request.headers;
    if (headers['upload-defer-length'] !== undefined || headers['upload-length'] === undefined) throw new AppError('UPLOAD_LENGTH_REQUIRED');
    const lengthText = String(headers['upload-length']);
    if (!/^\d{1,15}$/.test(lengthText)) throw new AppError('BAD_REQUEST', 'Upload-Length must be a whole number of bytes.');
    const size = Number(lengthText);
    if (size === 0) throw new AppError('BAD_REQUEST', 'The file is empty.');
    if (size > opts.maxBytes) {
      throw new AppError('UPLOAD_TOO_LARGE', `The file is ${mib(size)} MiB; this server accepts files up to ${mib(opts.maxBytes)} MiB.`, { maxBytes: opts.maxBytes });
    }
    if (headers['upload-concat'] !== undefined) throw new AppError('BAD_REQUEST', 'Concatenated uploads are not supported.');
    const meta = parseUploadMetadata(headers['upload-metadata'] === undefined ? undefined : String(headers['upload-metadata']));
    if ('error' in meta) throw new AppError('VALIDATION', meta.error);
    const rate = await opts.limiter.take(`upload:create:${user.id}`, CREATE_RATE);
    if (!rate.allowed) throw new AppError('RATE_LIMITED', 'Too many new uploads; try again later.', { retryAfterMs: rate.retryAfterMs });
    if ((await opts.store.inProgress(channelId)) >= opts.perUser) {
      throw new AppError('TOO_MANY_UPLOADS', `You already have ${opts.perUser} uploads in progress; finish or cancel one first.`);
    }
    if (opts.quota.limitBytes !== null) {
      const used = await opts.quota.usage(channelId);
      if (used + size > opts.quota.limitBytes) {
        throw new AppError('STORAGE_QUOTA_EXCEEDED', `This file needs ${mib(size)} MiB but the channel has ${mib(Math.max(0, opts.quota.limitBytes - used))} MiB left of its ${mib(opts.quota.limitBytes)} MiB; delete videos to make room.`);
      }
    }
    const vodId = randomUUID();
    pending.set(request.raw, { vodId, channelId, meta });
    return vodId;
  };

  const handler = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    if (request.method !== 'OPTIONS') {
      const user = await authenticate(request);
      const id = request.params.id;
      if (id === undefined) {
        if (request.method !== 'POST') throw new AppError('ROUTE_NOT_FOUND');
        reply.raw.setHeader(VOD_ID_HEADER, await checkCreation(request, user));
      } else {
        const upload = /^[0-9a-f]{32}$/.test(id) ? await opts.store.byUploadId(id) : null;
        if (!upload || upload.owner_id !== user.id) throw new AppError('NOT_FOUND', 'No such upload.');
        // Termination of a finished upload goes through DELETE /api/v1/vods/:id, which also stops its job.
        if (request.method === 'DELETE' && upload.status !== 'uploading') throw new AppError('BAD_REQUEST', 'This upload is finished; delete its video instead.');
        reply.raw.setHeader(VOD_ID_HEADER, upload.id);
        if (request.method === 'DELETE') {
          // tus termination, done here so the upload's VOD goes with its bytes before the answer.
          if (request.headers['tus-resumable'] !== '1.0.0') throw new AppError('BAD_REQUEST', 'Send Tus-Resumable: 1.0.0.');
          await opts.tus.remove(id);
          await opts.store.removeUploading(id);
          return reply.status(204).header('tus-resumable', '1.0.0').send();
        }
      }
    }
    reply.hijack();
    try {
      await opts.tus.handle(request.raw, reply.raw);
    } catch (err) {
      opts.log.error({ err }, 'tus request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'INTERNAL', message: ERRORS.INTERNAL.message } }));
      else reply.raw.destroy();
    }
  };

  const schema = { hide: true } as const;
  app.route({ method: ['POST', 'OPTIONS'], url: '/uploads', schema, handler });
  app.route({ method: ['HEAD', 'PATCH', 'DELETE', 'OPTIONS'], url: '/uploads/:id', schema, handler });
};

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0);
}
