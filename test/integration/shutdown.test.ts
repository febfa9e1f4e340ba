// A node stopped on purpose (SIGTERM: a deploy, `systemctl restart`) while a channel is live must
// say so in the database before it lets go of it: the session ends as `server-shutdown`, not as a
// row left live for another node's lease sweep to call `node-lost` later.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import t from 'tap';
import { until } from '../helpers/media.ts';
import { startNode } from '../helpers/node-process.ts';
import { publish } from '../helpers/publisher.ts';
import { TEST_REDIS_URL, createTestDatabase, freePort, tempDir, uniquePrefix } from '../helpers/services.ts';

t.test('a node stopped while a channel is live ends the session as server-shutdown before it exits', async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const env = {
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    RTMP_PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix('shutdown'),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: await tempDir(t, 'shutdown'),
    LADDER: '',
    LOG_LEVEL: 'info',
  };
  const node = await startNode(t, env);
  // What followers, webhooks and the other nodes hear: the bus's stream.ended.
  const listener = new Redis(TEST_REDIS_URL);
  t.teardown(() => listener.quit());
  const heard: { sessionId: string; reason: string }[] = [];
  listener.on('message', (_channel, message: string) => heard.push(JSON.parse(message)));
  await listener.subscribe(`${env.REDIS_PREFIX}stream.ended`);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());

  const reg = await fetch(`${node.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'stopper', email: 'stopper@example.test', password: 'correct horse battery' }),
  });
  t.equal(reg.status, 201);
  const { accessToken } = (await reg.json()) as { accessToken: string };
  const keyRes = await fetch(`${node.url}/api/v1/channels/stopper/stream-key`, { headers: { authorization: `Bearer ${accessToken}` } });
  const { streamKey } = (await keyRes.json()) as { streamKey: string };
  publish(t, `rtmp://127.0.0.1:${node.rtmpPort}/live/${streamKey}`, { seconds: 120 });
  const live = await until(async () => {
    const channel = (await (await fetch(`${node.url}/api/v1/channels/stopper`)).json()) as { live: boolean; sessionId?: string };
    return channel.live ? channel : null;
  }, 'the channel to go live', 60_000, 200);

  t.equal(await node.stop(), 0, 'the node exits with code 0');
  const row = (await db.query('select ended_at, end_reason from live_sessions where id = $1', [live.sessionId])).rows[0];
  t.not(row.ended_at, null, 'the session row has ended by the time the process is gone');
  t.equal(row.end_reason, 'server-shutdown', 'and says why');
  const ended = await until(() => heard.find((m) => m.sessionId === live.sessionId), 'stream.ended on the bus', 5000, 50);
  t.equal(ended.reason, 'server-shutdown', 'the end is announced on the bus before the node lets go of Redis');
  const failures = node.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
  t.same(failures, [], 'nothing failed on the way out');
});
