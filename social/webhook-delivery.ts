// Webhook deliveries, as Stripe and GitHub sign theirs: the body is JSON, `Spillway-Timestamp` is
// the sending time (Unix seconds) and `Spillway-Signature` is `v1=` + hex HMAC-SHA256 of
// "<timestamp>.<body>" under the hook's secret, so a receiver can check both origin and freshness
// (refuse timestamps older than a few minutes to stop replays). A delivery that does not get a 2xx
// within 10 s is retried by the jobs queue with doubling backoff for about a day.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import { decryptStreamKey as decryptSecret } from '../src/channels/stream-key.ts';
import { PermanentJobError, type JobContext } from '../src/jobs/jobs.ts';
import type { Logger } from '../src/log.ts';
import type { SocialDb } from './social-tables.ts';
import { guardedLookup, isPrivateAddress } from './webhook-url-guard.ts';

export const DELIVERY_QUEUE = 'social-webhook-delivery';
const TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Attempts and first retry delay: 10 s doubling 13 times is about 23 hours of retries. */
export const DELIVERY_RETRY = { attempts: 14, backoffMs: 10_000 };

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and the tests): true when `header` is a valid signature of this body and time. */
export function verifySignature(secret: string, timestamp: number, body: string, header: string): boolean {
  const expected = Buffer.from(signature(secret, timestamp, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface DeliveryDeps {
  db: Kysely<SocialDb>;
  cipherKey: Buffer;
  allowPrivate: boolean;
  log: Logger;
}

interface Outcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/** The job handler: one attempt at one delivery. Throws to have the queue retry it. */
export function deliveryHandler(deps: DeliveryDeps) {
  return async (job: JobContext<{ deliveryId: string }>): Promise<void> => {
    const { db, log } = deps;
    const row = await db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .select(['webhook_deliveries.id', 'webhook_deliveries.event', 'webhook_deliveries.body', 'webhook_deliveries.status', 'webhooks.id as hook_id', 'webhooks.url', 'webhooks.secret_ciphertext'])
      .where('webhook_deliveries.id', '=', job.data.deliveryId)
      .executeTakeFirst();
    // The hook was deleted, or this delivery already went through: nothing to do.
    if (!row || row.status === 'delivered') return;
    const timestamp = Math.floor(Date.now() / 1000);
    const secret = decryptSecret(deps.cipherKey, row.secret_ciphertext);
    const outcome = await post(new URL(row.url), row.body, {
      'content-type': 'application/json',
      'user-agent': 'Spillway-Webhooks/1',
      'spillway-event': row.event,
      'spillway-delivery': row.id,
      'spillway-timestamp': String(timestamp),
      'spillway-signature': signature(secret, timestamp, row.body),
    }, deps.allowPrivate, job.signal);
    const last = outcome.ok ? 'delivered' : job.attempt >= job.maxAttempts ? 'failed' : 'retrying';
    const now = new Date();
    await db
      .updateTable('webhook_deliveries')
      .set((eb) => ({ status: last, attempts: eb('attempts', '+', 1), last_status_code: outcome.statusCode, last_error: outcome.error, last_attempt_at: now, ...(outcome.ok ? { delivered_at: now } : {}) }))
      .where('id', '=', row.id)
      .execute();
    await db.updateTable('webhooks').set({ last_status: last, last_status_code: outcome.statusCode, last_error: outcome.error, last_attempt_at: now }).where('id', '=', row.hook_id).execute();
    if (outcome.ok) return;
    log.info({ delivery: row.id, hook: row.hook_id, attempt: job.attempt, status: outcome.statusCode, error: outcome.error }, 'webhook delivery failed');
    if (outcome.error?.startsWith('refused:')) throw new PermanentJobError(outcome.error);
    throw new Error(outcome.error ?? `answered ${outcome.statusCode}`);
  };
}

function post(url: URL, body: string, headers: Record<string, string>, allowPrivate: boolean, signal: AbortSignal): Promise<Outcome> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // An address literal never goes through the lookup, so it is checked here.
  if (!allowPrivate && (url.protocol !== 'https:' || (isIP(host) && isPrivateAddress(host)))) {
    return Promise.resolve({ ok: false, statusCode: null, error: 'refused: the URL points at a private address' });
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: guardedLookup(allowPrivate) as never, timeout: TIMEOUT_MS, signal },
      (response) => {
        // Read (and drop) at most a little of the answer; a redirect is not followed.
        let seen = 0;
        response.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > MAX_RESPONSE_BYTES) response.destroy();
        });
        response.on('error', () => {});
        const code = response.statusCode ?? 0;
        const done = () => resolve({ ok: code >= 200 && code < 300, statusCode: code, error: code >= 200 && code < 300 ? null : `answered ${code}` });
        response.on('end', done);
        response.on('close', done);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, statusCode: null, error: err.code === 'EPRIVATE' ? `refused: ${err.message}` : err.message }));
    request.end(body);
  });
}
