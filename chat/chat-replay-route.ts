// GET /api/v1/vods/:id/chat?from=&to= (and the same by live session id): the chat of one part of a
// recording, by offset into the session in ms, so a player can show it in sync. A private VOD's
// chat is its owner's only, like its media.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../src/errors.ts';
import type { Kysely } from 'kysely';
import type { AccountService } from '../src/accounts/account-service.ts';
import { findVisibleVod } from '../vod/vod-query.ts';
import { errors } from '../src/http/schemas.ts';
import { narrow } from '../src/db/narrow.ts';
import type { VodDb } from '../vod/vod-tables.ts';
import { ChatMessage } from './chat-protocol.ts';
import type { ChatService } from './chat-service.ts';
import type { ChatDb } from './chat-tables.ts';

const MAX_MESSAGES = 1000;
// A century of stream, far past any real session: keeps from + 60 s + the VOD's shift a safe
// integer inside PostgreSQL's bigint (1e19 used to reach the database and fail there as a 500).
const MAX_OFFSET_MS = 100 * 365 * 86_400_000;

export const ReplayQuery = Type.Object({
  from: Type.Integer({ minimum: 0, maximum: MAX_OFFSET_MS, default: 0, description: 'Offset in ms, inclusive.' }),
  to: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET_MS, description: 'Offset in ms, exclusive; default from + 60 s.' })),
  limit: Type.Integer({ minimum: 1, maximum: MAX_MESSAGES, default: 500 }),
});

export const ReplayBody = Type.Object({
  messages: Type.Array(ChatMessage),
  /** Set when the range held more than `limit`: ask again with from = nextFrom. */
  nextFrom: Type.Union([Type.Integer(), Type.Null()]),
});

export interface ChatReplayOptions {
  service: ChatService;
  db: Kysely<ChatDb>;
  accounts: AccountService;
}

export const chatReplayRoute: FastifyPluginAsync<ChatReplayOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const schema = (summary: string) => ({
    tags: ['chat'],
    summary,
    params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
    querystring: ReplayQuery,
    response: { 200: ReplayBody, ...errors(400, 401, 403, 404) },
  });

  /** One page of a session's chat between two offsets; null when there is no such session. */
  const page = async (liveSessionId: string, query: { from: number; to?: number; limit: number }) => {
    const { from, limit } = query;
    const to = query.to ?? from + 60_000;
    if (to < from) throw new AppError('VALIDATION', '"to" must not be before "from".');
    // One more than asked, to know whether the range goes on.
    const rows = await opts.service.replay(liveSessionId, from, to, limit + 1);
    if (rows === null) return null;
    if (rows.length <= limit) return { messages: rows, nextFrom: null };
    // Cut before the offset the page ends in, so the next page starts cleanly at it (no duplicates).
    const nextFrom = rows[limit]!.offsetMs!;
    const cut = rows.slice(0, limit).filter((m) => m.offsetMs! < nextFrom);
    return cut.length > 0 ? { messages: cut, nextFrom } : { messages: rows.slice(0, limit), nextFrom: nextFrom + 1 };
  };

  app.get('/vods/:id/chat', { schema: schema('Chat of a VOD between two offsets (ms from the recording\'s first frame), in order.') }, async (request) => {
    const { vod } = await findVisibleVod(narrow(opts.db).to<VodDb>(), opts.accounts, request, request.params.id);
    // Offsets here are into the recording, which starts media_offset_ms into the live session.
    const shift = vod.media_offset_ms;
    const { from, to, limit } = request.query;
    // From the very start, include what was said before the first frame (shown at 0).
    // An uploaded video has no live session, so no chat to replay.
    const result = vod.live_session_id === null ? null : await page(vod.live_session_id, { from: from === 0 ? 0 : from + shift, to: (to ?? from + 60_000) + shift, limit });
    if (!result) return { messages: [], nextFrom: null };
    return {
      messages: result.messages.map((m) => ({ ...m, offsetMs: m.offsetMs === null ? null : Math.max(0, m.offsetMs - shift) })),
      nextFrom: result.nextFrom === null ? null : Math.max(0, result.nextFrom - shift),
    };
  });

  app.get('/live-sessions/:id/chat', { schema: schema('Chat of a live session between two offsets (ms), in order.') }, async (request) => {
    const result = await page(request.params.id, request.query);
    if (result === null) throw new AppError('NOT_FOUND', 'No such live session.');
    return result;
  });
};
