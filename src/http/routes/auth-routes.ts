// /api/v1/auth: register, login, refresh, logout, logout everywhere, me, delete account.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService, PublicUser, Session } from '../../accounts/account-service.ts';
import type { PasswordService } from '../../accounts/password-service.ts';
import { currentUser, requireUser } from '../auth-hook.ts';
import { Email, Password, User, Username, errors } from '../schemas.ts';
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
  return { id: user.id, username: user.username, email: user.email, createdAt: user.createdAt.toISOString(), role: user.role, emailVerified: user.emailVerified };
}

const PendingResponse = Type.Object({
  pending: Type.Literal(true),
  user: User,
  message: Type.String(),
});

export interface AuthRoutesOptions {
  accounts: AccountService;
  passwords: PasswordService;
  /** Where links in mail point (PUBLIC_URL, or this request's origin when mail only goes to files). */
  linkBase: (request: FastifyRequest) => string;
}

export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (fastify, { accounts, passwords, linkBase }) => {
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
            email: Email,
            password: Password,
            inviteCode: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$', description: 'From an invite link, when the instance signs up by invitation.' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: SessionResponse, 202: PendingResponse, ...errors(400, 403, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const result = await accounts.register(request.body);
      if (!result.user.emailVerified) passwords.sendVerification(result.user, linkBase(request));
      if ('pending' in result) {
        return reply.status(202).send({ pending: true, user: userBody(result.user), message: 'Your account waits for an admin to approve it; you can sign in once they have.' });
      }
      return reply.status(201).send(sessionBody(result));
    },
  );

  app.post(
    '/login',
    {
      schema: {
        tags: ['auth'],
        // No control characters: PostgreSQL text cannot hold a NUL, and no username or email has one.
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 254, pattern: '^[^\\u0000-\\u001F\\u007F]*$' }), password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: { 200: SessionResponse, ...errors(400, 401, 403, 429) },
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
        response: { 200: SessionResponse, ...errors(400, 401, 403) },
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
    { preHandler: auth, schema: { tags: ['auth'], security: [{ bearer: [] }], response: { 200: User, ...errors(401, 403) } } },
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
        response: { 204: Type.Null(), ...errors(400, 401, 409) },
      },
    },
    async (request, reply) => {
      await accounts.deleteAccount(currentUser(request).id, request.body.password);
      return reply.status(204).send(null);
    },
  );
};
