// The HTTP app as a plugin-built Fastify instance: main.ts listens on it, tests inject() into it.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { AccountService } from '../accounts/account-service.ts';
import type { PasswordService } from '../accounts/password-service.ts';
import type { ChannelService } from '../channels/channel-service.ts';
import type { Logger } from '../log.ts';
import { clientErrorHandler, frameworkErrors, installErrorHandler } from './error-handler.ts';
import { installJsonParser } from './json-body-parser.ts';
import { createMetricsRegistry, installRequestMetrics } from './metrics.ts';
import { authRoutes } from './routes/auth-routes.ts';
import { channelRoutes, type ChannelRoutesOptions } from './routes/channel-routes.ts';
import { healthRoutes } from './routes/health-routes.ts';
import { passwordRoutes } from './routes/password-routes.ts';
import { ErrorResponse } from './schemas.ts';
import { validatorCompiler } from './validator.ts';

export interface AppDeps {
  log: Logger;
  accounts: AccountService;
  passwords: PasswordService;
  channels: ChannelService;
  readiness: Record<string, () => Promise<void>>;
  rtmpPort: () => number;
  publicUrl: string;
  trustProxy: boolean;
  liveInfo?: ChannelRoutesOptions['liveInfo'];
  viewerInfo?: ChannelRoutesOptions['viewerInfo'];
  /** The largest WebSocket frame any socket route accepts; a larger one closes its socket (1009). */
  socketMaxPayload?: number;
}

/** Chat's limit (chat/chat-protocol.ts MAX_FRAME_BYTES), which is the largest any room needs. */
const DEFAULT_SOCKET_MAX_PAYLOAD = 4 * 1024;

export const API_BODY_LIMIT = 16 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log.child({ mod: 'http' }) as FastifyBaseLogger,
    bodyLimit: API_BODY_LIMIT,
    trustProxy: deps.trustProxy,
    // Players poll playlists several times a second: a log line per request would drown the rest.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 200 },
    frameworkErrors,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: anything else is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app);
  app.addSchema(ErrorResponse);
  installErrorHandler(app);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Spillway API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  // One WebSocket plugin for the whole server (chat, notifications): a second registration would
  // also answer every upgrade and route it twice.
  await app.register(websocket, {
    options: { maxPayload: deps.socketMaxPayload ?? DEFAULT_SOCKET_MAX_PAYLOAD, perMessageDeflate: false },
    // ws has already closed the socket with the right code (1009 for an oversized frame, 1002
    // for a protocol error); only record it.
    errorHandler: (err, socket) => {
      app.log.debug({ err: err as Error }, 'socket error');
      if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error');
    },
    // Rooms close their own sockets first (preClose hooks of their plugins); what is left is told
    // why (1001) before the server stops.
    preClose: function (done) {
      const wss = this.websocketServer;
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      wss.close(() => done());
    },
  });

  app.get('/api/docs/json', { schema: { hide: true } }, async () => app.swagger());

  const registry = createMetricsRegistry();
  installRequestMetrics(app, registry);
  app.decorate('metricsRegistry', registry);

  await app.register(healthRoutes, { checks: deps.readiness });
  // Mail links point at PUBLIC_URL. Without it (config allows that only when mail goes to local
  // files), at the origin the request came to: a forged Host then only reaches the machine's owner.
  const linkBase = (request: FastifyRequest) => deps.publicUrl || `${request.protocol}://${request.host}`;
  await app.register(authRoutes, { prefix: '/api/v1/auth', accounts: deps.accounts, passwords: deps.passwords, linkBase });
  await app.register(passwordRoutes, { prefix: '/api/v1/auth', accounts: deps.accounts, passwords: deps.passwords, linkBase });
  await app.register(channelRoutes, {
    prefix: '/api/v1/channels',
    accounts: deps.accounts,
    channels: deps.channels,
    rtmpPort: deps.rtmpPort,
    publicUrl: deps.publicUrl,
    liveInfo: deps.liveInfo,
    viewerInfo: deps.viewerInfo,
  });
  return app;
}
