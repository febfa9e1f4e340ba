// The body that suspends an account, shared by the users route and a report's "suspend" action.
import { Type, type Static } from 'typebox';
import type { SuspendInput } from '../src/accounts/account-admin.ts';
import { AppError } from '../src/errors.ts';
import { cleanText } from '../src/text/clean-text.ts';

export const SuspensionBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Shown to the user when they try to sign in.' }),
    until: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it ends by itself; absent or null: until lifted.' })),
    hideContent: Type.Optional(Type.Boolean({ description: 'Hide their chat messages and comments while suspended (shown again when lifted).' })),
  },
  { additionalProperties: false },
);

export function suspendInput(body: Static<typeof SuspensionBody>): SuspendInput {
  const reason = cleanText(body.reason).trim().slice(0, 500);
  if (reason === '') throw new AppError('VALIDATION', 'Say why in the reason: the user is told.');
  return {
    reason,
    until: body.until ? new Date(body.until) : null,
    hideContent: body.hideContent ?? false,
  };
}
