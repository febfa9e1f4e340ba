// /api/v1/auth: register, login, refresh, logout, logout everywhere, me, delete account.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService, PublicUser, Session } from '../../accounts/account-service.ts';
import { currentUser, requireUser } from '../auth-hook.ts';
import { User, Username, errors } from '../schemas.ts';

const Password = Type.String({ minLength: 8, maxLength: 256 });
const RefreshToken = Type.String({ minLength: 1, maxLength: 256 });

const SessionResponse = Type.Object({
  user: User,
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
  refreshToken: Type.String(),
});

function sessionBody(session: Session) {
  return {
    user: userBody(session.user),
    accessToken: session.accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: session.accessTokenExpiresIn,
    refreshToken: session.refreshToken,
  };
}

export function userBody(user: PublicUser) {
  return { id: user.id, username: user.username, email: user.email, createdAt: user.createdAt.toISOString() };
}

export const authRoutes: FastifyPluginAsync<{ accounts: AccountService }> = async (fastify, { accounts }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const auth = requireUser(accounts);
  const noStore = async (_req: unknown, reply: { header(k: string, v: string): unknown }) => void reply.header('cache-control', 'no-store');
  app.addHook('onRequest', noStore);

  app.post(
    '/register',
    {
      schema: {
        tags: ['auth'],
        body: Type.Object(
          {
            username: Username,
            email: Type.String({ format: 'email', maxLength: 254 }),
            password: Password,
          },
          { additionalProperties: false },
        ),
        response: { 201: SessionResponse, ...errors(400, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const session = await accounts.register(request.body);
      return reply.status(201).send(sessionBody(session));
    },
  );

  app.post(
    '/login',
    {
      schema: {
        tags: ['auth'],
        // No control characters: PostgreSQL text cannot hold a NUL, and no username or email has one.
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 254, pattern: '^[^\\u0000-\\u001F\\u007F]*$' }), password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: { 200: SessionResponse, ...errors(400, 401, 429) },
      },
    },
    async (request) => sessionBody(await accounts.login({ ...request.body, ip: request.ip })),
  );

  app.post(
    '/refresh',
    {
      schema: {
        tags: ['auth'],
        body: Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false }),
        response: { 200: SessionResponse, ...errors(400, 401) },
      },
    },
    async (request) => sessionBody(await accounts.refresh(request.body.refreshToken)),
  );

  app.post(
    '/logout',
    {
      schema: {
        tags: ['auth'],
        body: Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400) },
      },
    },
    async (request, reply) => {
      await accounts.logout(request.body.refreshToken);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/logout-all',
    {
      preHandler: auth,
      schema: {
        tags: ['auth'],
        summary: 'Sign out everywhere: every refresh token and access token of the account stops working at once.',
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), ...errors(401) },
      },
    },
    async (request, reply) => {
      await accounts.revokeAllSessions(currentUser(request).id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me',
    { preHandler: auth, schema: { tags: ['auth'], security: [{ bearer: [] }], response: { 200: User, ...errors(401) } } },
    async (request) => userBody(currentUser(request)),
  );

  app.delete(
    '/me',
    {
      preHandler: auth,
      schema: {
        tags: ['auth'],
        security: [{ bearer: [] }],
        body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      await accounts.deleteAccount(currentUser(request).id, request.body.password);
      return reply.status(204).send(null);
    },
  );
};
