// Every error leaves the API as { "error": { "code", "message" } } with a stable code. Fastify's
// own errors (bad JSON, schema failures, oversized bodies, router and HTTP parser errors) are mapped
// onto the same catalogue.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode } from '../errors.ts';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'VALIDATION',
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

export function errorBody(code: ErrorCode, message: string = ERRORS[code].message) {
  return { error: { code, message } };
}

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
      return reply.status(status).send(errorBody(code, message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('ROUTE_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`));
  });
}

/**
 * Fastify's `frameworkErrors` option: errors the router meets before any route or error handler
 * (a malformed percent-encoding, a path parameter over maxParamLength).
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const code = FASTIFY_CODES[err.code];
  if (!code) request.log.error({ err }, 'unhandled framework error');
  reply.status(code ? ERRORS[code].status : 500).send(errorBody(code ?? 'INTERNAL'));
}

/** Fastify's `clientErrorHandler` option: a request Node's HTTP parser refused (it never becomes a request). */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST';
  const { status } = ERRORS[code];
  const body = JSON.stringify(errorBody(code));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

