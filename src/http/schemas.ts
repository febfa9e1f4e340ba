// Schemas shared by several routes. Each is both the validation and the TypeScript type.
import { Type } from 'typebox';

export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }) },
  { $id: 'ErrorResponse' },
);

export const USERNAME_PATTERN = '^[A-Za-z0-9_]{3,25}$';

export const Username = Type.String({ pattern: USERNAME_PATTERN, description: '3–25 letters, digits or underscores; also the channel slug.' });
export const Slug = Type.String({ pattern: USERNAME_PATTERN, maxLength: 25 });

export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  email: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  role: Type.Union([Type.Literal('user'), Type.Literal('moderator'), Type.Literal('admin')], { description: 'Instance role; channel owners and moderators are separate.' }),
  emailVerified: Type.Boolean({ description: 'False only while a new account has not followed its verification link (with SMTP configured); streaming waits for it.' }),
});

export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const Email = Type.String({ format: 'email', maxLength: 254 });

/** Standard error responses for a route, keyed by status code. */
export function errors(...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse]));
}
