// Fuzzes the chat WebSocket with generated bad frames: wrong types, huge and odd Unicode strings,
// missing and extra fields, deep nesting, binary, invalid UTF-8, junk tokens, moderation by a
// non-moderator. Each run is one socket; the server must answer with error frames or a documented
// close code, keep serving the room, log no error, and change no other user's data.
// FUZZ_RUNS sets the number of runs (default small for CI); FUZZ_SEED replays a failure.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import t from 'tap';
import WebSocket from 'ws';
import { registerUser } from '../helpers/server-harness.ts';
import { ChatClient, startChatServer } from '../helpers/chat-harness.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
// 1003 binary, 1007 invalid UTF-8 (ws), 1008 flood, 1009 over 4 KiB.
const CLOSE_CODES = new Set([1003, 1007, 1008, 1009]);
const SERVER_TYPES = new Set(['welcome', 'batch', 'authed', 'ack', 'message', 'deleted', 'slow-mode', 'moderation', 'viewers', 'error']);

type Wire = { text: string } | { binary: Buffer } | { invalidUtf8: Buffer };

t.test('chat WebSocket fuzz', async (t) => {
  const cs = await startChatServer(t);
  const { server } = cs;
  const [alice, bob, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'mallory')]);
  const channelId = (await server.channels.bySlug('alice'))!.id;
  const observer = await cs.connect('alice');
  const bobSocket = await cs.connect('alice');
  t.equal((await bobSocket.auth(bob.accessToken)).type, 'authed');
  const bobMessage = await bobSocket.post('a message mallory would like gone');
  const url = `${cs.base.replace(/^http/, 'ws')}/chat/alice`;

  const db = server.database.db;
  const snapshot = async () => ({
    users: await db.selectFrom('users').selectAll().where('id', '!=', mallory.user.id).orderBy('id').execute(),
    channels: await db.selectFrom('channels').selectAll().orderBy('id').execute(),
    others: await db.selectFrom('chat_messages').selectAll().where('user_id', '!=', mallory.user.id).orderBy('id').execute(),
    bans: await db.selectFrom('chat_bans').selectAll().execute(),
    moderators: await db.selectFrom('chat_moderators').selectAll().execute(),
    settings: await db.selectFrom('chat_settings').selectAll().execute(),
  });
  const before = await snapshot();

  const wrongKey = await new SignJWT({ typ: 'access' }).setProtectedHeader({ alg: 'HS256' }).setSubject(alice.user.id).setIssuer('spillway').setExpirationTime('5m').sign(Buffer.alloc(32, 9));
  const algNone = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: alice.user.id, typ: 'access', iss: 'spillway' })).toString('base64url')}.`;
  const oddString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.constantFrom('\u202E', '\u0000', '\uD800', '\u200D'.repeat(50), '\uFEFF', '💥'.repeat(600), 'x'.repeat(2001), ''),
  );
  const username = fc.oneof(fc.constantFrom('alice', 'bob', 'mallory', 'nobody'), oddString);
  const anyValue = fc.oneof(oddString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));
  const frameObject = fc.oneof(
    fc.record({ type: fc.constant('post'), text: oddString, nonce: fc.option(anyValue, { nil: undefined }) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('auth'), token: fc.oneof(oddString, fc.constantFrom(wrongKey, algNone, alice.accessToken.slice(0, -3) + 'AAA')) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('delete'), messageId: fc.oneof(fc.uuid(), fc.constant(bobMessage.messageId), oddString) }),
    fc.record({ type: fc.constantFrom('timeout', 'ban', 'unban'), username, seconds: fc.oneof(fc.integer(), anyValue), reason: fc.option(oddString, { nil: undefined }) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('slow-mode'), seconds: anyValue }),
    fc.dictionary(oddString, anyValue, { maxKeys: 4 }).map((extra) => ({ type: 'post', text: 'hi', ...extra })),
    fc.record({ type: anyValue, payload: anyValue }),
  );
  const wire: fc.Arbitrary<Wire> = fc.oneof(
    { weight: 6, arbitrary: frameObject.map((f) => ({ text: JSON.stringify(f) })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ text: JSON.stringify(v) ?? 'null' })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => ({ text: '['.repeat(n) + ']'.repeat(n) })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }).map((n) => ({ text: '{"a":'.repeat(n) + '1' + '}'.repeat(n) })) },
    { weight: 1, arbitrary: oddString.map((s) => ({ text: s })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ binary: Buffer.from(b) })) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe]), Buffer.from('{"type":"post","text":"\xed\xa0\x80"}', 'latin1')).map((b) => ({ invalidUtf8: b })) },
  );

  let runs = 0;
  let closedByServer = 0;
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(wire, { minLength: 1, maxLength: 6 }), async (signIn, frames) => {
      runs++;
      const client = await ChatClient.connect(url);
      try {
        if (signIn) await client.auth(mallory.accessToken);
        for (const f of frames) {
          if (client.closeInfo || client.ws.readyState !== WebSocket.OPEN) break;
          if ('text' in f) client.ws.send(f.text);
          else if ('binary' in f) client.ws.send(f.binary, { binary: true });
          else client.ws.send(f.invalidUtf8, { binary: false });
        }
        // A marker post: every frame before it has been handled once its reply arrives (frames are handled in order).
        if (client.ws.readyState === WebSocket.OPEN) {
          const nonce = `marker-${runs}`;
          client.send({ type: 'post', text: 'marker', nonce });
          await Promise.race([client.waitFor((f) => (f.type === 'ack' || f.type === 'error') && f.nonce === nonce, 'the marker reply', 0, 10_000), client.closed]);
        }
        if (client.closeInfo) {
          closedByServer++;
          if (!CLOSE_CODES.has(client.closeInfo.code)) throw new Error(`undocumented close code ${client.closeInfo.code} (${client.closeInfo.reason})`);
        }
        for (const f of client.frames) {
          if (!SERVER_TYPES.has(f.type)) throw new Error(`unknown server frame ${JSON.stringify(f).slice(0, 200)}`);
          if (f.type === 'error' && (typeof f.code !== 'string' || f.code === 'INTERNAL')) throw new Error(`bad error frame ${JSON.stringify(f)}`);
        }
      } finally {
        client.ws.terminate();
      }
      // The room still carries messages to the other viewers.
      const probe = `probe-${runs}`;
      const mark = observer.frames.length;
      await server.chat.service.publish(channelId, { type: 'deleted', messageId: probe });
      await observer.waitFor((f) => f.type === 'deleted' && f.messageId === probe, 'the probe at the observer', mark);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.pass(`${runs} runs (seed ${SEED}); the server closed ${closedByServer} sockets, each with a documented code`);

  t.equal(observer.ws.readyState, WebSocket.OPEN, 'the observer is still connected');
  const ack = await bobSocket.post('the room carries on');
  t.equal(ack.type, 'ack', 'a signed-in viewer still posts');
  await observer.waitFor((f) => f.type === 'message' && f.message.id === ack.messageId, 'the last real message');
  const after = await snapshot();
  after.others = after.others.filter((m) => m.id !== ack.messageId);
  t.same(after, before, 'no other user, channel, ban, moderator, setting or message changed');
  t.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200, 'the server still answers');
  t.notMatch(server.logs(), /"level":(50|60)/, 'nothing logged at error or fatal level');
});
