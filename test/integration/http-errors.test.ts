// Issue #11: bad input is a 4xx in the catalogue's shape, never a 500 or the framework's own body.
// Each subtest pins one defect found by hand or by the fuzz suite (test/integration/http-fuzz.test.ts).
import type { InjectOptions, LightMyRequestResponse as Reply } from 'fastify';
import t from 'tap';
import type { Server } from '../../src/main.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MEDIA = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

/** A ready public VOD of `slug`'s channel with one 1000-byte segment in storage. */
async function readyVod(server: Server, slug: string): Promise<{ vodId: string; sessionId: string }> {
  const db = server.database.db;
  const channelId = (await server.channels.bySlug(slug))!.id;
  const session = await db
    .insertInto('live_sessions')
    .values({ channel_id: channelId, started_at: new Date(), ended_at: new Date(), end_reason: 'unpublished' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const prefix = `vods/${session.id}`;
  const vod = await db
    .insertInto('vods')
    .values({ live_session_id: session.id, channel_id: channelId, started_at: new Date(), storage_prefix: prefix, status: 'ready' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await server.storage.put(`${prefix}/720p/seg-1.m4s`, MEDIA);
  return { vodId: vod.id, sessionId: session.id };
}

function assertErrorShape(t: Test, res: Reply, status: number, code?: string): void {
  t.equal(res.statusCode, status, `status ${status}`);
  const body = res.json();
  t.type(body.error?.code, 'string', 'an error code');
  t.type(body.error?.message, 'string', 'an error message');
  t.same(Object.keys(body), ['error'], 'nothing beside "error"');
  if (code) t.equal(body.error.code, code);
}

t.test('chat replay: offsets too large for the database are a 400, not a 500', async (t) => {
  const server = await startTestServer(t);
  await registerUser(server, 'alice');
  const { vodId, sessionId } = await readyVod(server, 'alice');
  for (const base of [`/api/v1/vods/${vodId}/chat`, `/api/v1/live-sessions/${sessionId}/chat`]) {
    for (const name of ['from', 'to']) {
      for (const value of ['1e19', '9223372036854775807', '1e308', '1e400', '9007199254740993']) {
        const res = await server.app.inject({ url: `${base}?${name}=${value}` });
        t.equal(res.statusCode, 400, `${base.split('/')[3]} ${name}=${value}`);
        t.equal(res.json().error.code, 'VALIDATION');
      }
    }
    t.equal((await server.app.inject({ url: `${base}?from=86400000&to=90000000` })).statusCode, 200, 'a day into a stream is fine');
  }
});
