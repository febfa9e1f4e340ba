// /healthz: the process answers. /readyz: the database and the bus answer too, so a load balancer
// stops sending traffic to a node that cannot serve it.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';

export interface HealthRoutesOptions {
  checks: Record<string, () => Promise<void>>;
}

const CHECK_TIMEOUT_MS = 3000;

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { checks }) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { tags: ['health'] } }, async (request, reply) => {
    const results: Record<string, string> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          results[name] = 'ok';
        } catch (err) {
          request.log.warn({ err, check: name }, 'readiness check failed');
          results[name] = 'unavailable';
        }
      }),
    );
    const ready = Object.values(results).every((r) => r === 'ok');
    reply.header('cache-control', 'no-store');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks: results });
  });
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
