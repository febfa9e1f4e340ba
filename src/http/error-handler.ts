// Every error leaves the API as { "error": { "code", "message" } } with a stable code. Fastify's
// own errors (bad JSON, schema failures, oversized bodies) are mapped onto the same catalogue.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, ERRORS, type ErrorCode } from '../errors.ts';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'VALIDATION',
};

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) {
      const retryAfterMs = err.details?.retryAfterMs;
      if (typeof retryAfterMs === 'number') reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
      return reply.status(err.status).send({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
    }
    const fastifyErr = err as FastifyError;
    let code: ErrorCode | undefined = fastifyErr.code ? FASTIFY_CODES[fastifyErr.code] : undefined;
    if (!code && fastifyErr.validation) code = 'VALIDATION';
    if (!code && err instanceof SyntaxError && fastifyErr.statusCode === 400) code = 'INVALID_JSON';
    if (!code && fastifyErr.statusCode && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) code = 'BAD_REQUEST';
    if (code) {
      const status = code === 'BAD_REQUEST' && fastifyErr.statusCode ? fastifyErr.statusCode : ERRORS[code].status;
      const message = code === 'VALIDATION' ? `Invalid request: ${fastifyErr.message}` : ERRORS[code].message;
      return reply.status(status).send({ error: { code, message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: ERRORS.INTERNAL.message } });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
  });
}
