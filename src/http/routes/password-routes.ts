// /api/v1/auth: password change, forgotten-password reset by email, email verification.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService } from '../../accounts/account-service.ts';
import type { PasswordService } from '../../accounts/password-service.ts';
import { currentUser, requireUser } from '../auth-hook.ts';
import { Email, Password, errors } from '../schemas.ts';

export interface PasswordRoutesOptions {
  accounts: AccountService;
  passwords: PasswordService;
  linkBase: (request: FastifyRequest) => string;
}

// Tokens are 32 random bytes in base64url (43 characters).
const LinkToken = Type.String({ minLength: 20, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });

export const passwordRoutes: FastifyPluginAsync<PasswordRoutesOptions> = async (fastify, { accounts, passwords, linkBase }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const auth = requireUser(accounts);
  app.addHook('onRequest', async (_req, reply) => void reply.header('cache-control', 'no-store'));

  app.post(
    '/password',
    {
      preHandler: auth,
      schema: {
        tags: ['auth'],
        summary: 'Change the password (needs the current one); every other session is signed out.',
        security: [{ bearer: [] }],
        body: Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      await passwords.change(currentUser(request).id, request.tokenFamily ?? null, request.body.currentPassword, request.body.newPassword);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/password-reset',
    {
      schema: {
        tags: ['auth'],
        summary: 'Mail a single-use reset link (valid 30 minutes) if the address has an account; the answer is the same either way.',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Type.Object({ message: Type.String() }), ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      await passwords.requestReset(request.body.email, request.ip, linkBase(request));
      return reply.status(202).send({ message: 'If an account uses this address, a link to reset its password is on its way.' });
    },
  );

  app.post(
    '/password-reset/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the emailed token; the account is signed out everywhere.',
        body: Type.Object({ token: LinkToken, newPassword: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      await passwords.confirmReset(request.body.token, request.body.newPassword, request.ip);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the email address with the token from the verification mail.',
        body: Type.Object({ token: LinkToken }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      await passwords.confirmVerification(request.body.token, request.ip);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/verify-email/resend',
    {
      preHandler: auth,
      schema: { tags: ['auth'], security: [{ bearer: [] }], response: { 202: Type.Object({ message: Type.String() }), ...errors(401, 403, 429) } },
    },
    async (request, reply) => {
      await passwords.resendVerification(currentUser(request), linkBase(request));
      return reply.status(202).send({ message: 'A new verification link is on its way.' });
    },
  );
};
