// A node that does not own a live session answers its requests by asking the owner (never by
// redirecting the viewer to an internal address): the same path and query string, so blocking
// reloads (_HLS_msn, _HLS_part, _HLS_skip) and preload-hinted parts wait on the owner, and the
// answer streams back as it arrives. Bounded by a timeout longer than any hold the owner makes.
import http from 'node:http';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../src/errors.ts';

/** Marks a request one node sent another: the owner never proxies it again (no loops). */
export const PROXIED_HEADER = 'x-spillway-proxied-by';
/** The viewer's key (viewer-counter.ts) computed by the node the viewer reached, for the owner's count. */
export const VIEWER_HEADER = 'x-spillway-viewer';

// Longer than the longest hold at the owner (three target durations of 6 s, or 10 s for a first part).
export const PROXY_TIMEOUT_MS = 25_000;
const PASSED_BACK = ['content-type', 'content-length', 'cache-control', 'last-modified', 'etag'];

export interface ProxyMetrics {
  onProxied(status: number): void;
}

export class OwnerProxy {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 512 });

  constructor(
    private readonly nodeId: string,
    private readonly metrics: ProxyMetrics | null = null,
    private readonly timeoutMs = PROXY_TIMEOUT_MS,
  ) {}

  /**
   * Sends `request` (its path and query string) to `ownerUrl` and streams the answer back through
   * `reply`; resolves once the answer is handed over (the handler then returns `reply`).
   */
  forward(request: FastifyRequest, reply: FastifyReply, ownerUrl: string, extraHeaders: Record<string, string> = {}): Promise<void> {
    const target = new URL(request.url, ownerUrl.endsWith('/') ? ownerUrl : `${ownerUrl}/`);
    const client = target.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...extraHeaders, [PROXIED_HEADER]: this.nodeId };
    if (request.headers['user-agent']) headers['user-agent'] = request.headers['user-agent'];
    return new Promise((resolve, reject) => {
      let answered = false;
      const upstream = client.request(
        target,
        { method: 'GET', headers, agent: target.protocol === 'https:' ? this.httpsAgent : this.httpAgent, timeout: this.timeoutMs },
        (res) => {
          answered = true;
          const status = res.statusCode ?? 502;
          this.metrics?.onProxied(status);
          reply.code(status);
          for (const name of PASSED_BACK) {
            const value = res.headers[name];
            if (value !== undefined) reply.header(name, value);
          }
          // A viewer that goes away stops the request to the owner too.
          reply.raw.once('close', () => res.destroy());
          reply.send(res);
          // Not the reply itself: it is a thenable that settles only when the response ends.
          resolve();
        },
      );
      upstream.on('timeout', () => upstream.destroy(new Error(`the owning node did not answer within ${this.timeoutMs} ms`)));
      upstream.on('error', (err) => {
        if (answered) return; // cut mid-answer: the viewer's response ends short, as the owner's did
        this.metrics?.onProxied(503);
        reject(new AppError('UNAVAILABLE', 'The node serving this stream is unreachable; try again in a moment.', { cause: err.message }));
      });
      upstream.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
