// One contract for both buses, then what only Redis can show: several nodes, prefixes, outages.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Redis } from 'ioredis';
import type { BusBackend } from '../../src/bus/create-bus.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { RedisBus } from '../../src/bus/redis-bus.ts';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/services.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** How `promise` has settled after at most `ms`: a test of "fails fast" must not hang on a bug. */
async function settledWithin(ms: number, promise: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise.then(() => 'resolved' as const, () => 'rejected' as const), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits by the wall clock: a timer may fire a little early, and the bucket tests measure time. */
async function sleepUntil(time: number): Promise<void> {
  while (Date.now() < time) await sleep(time - Date.now());
}

async function withAdmin<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

const keysUnder = (prefix: string) => withAdmin((redis) => redis.keys(`${prefix}*`));
const subscribers = (channel: string) => withAdmin(async (redis) => Number(((await redis.pubsub('NUMSUB', channel)) as unknown[])[1]));

function redisBus(t: Teardown, prefix = uniquePrefix('bus'), errors: Error[] = [], url = TEST_REDIS_URL): RedisBus {
  const bus = new RedisBus({ url, prefix, onError: (e) => errors.push(e) });
  t.teardown(async () => {
    await bus.close();
    await withAdmin(async (redis) => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    });
  });
  return bus;
}

/**
 * A TCP relay to the test Redis that can be cut and restored on the same port (an outage), or hold
 * what clients send for a while (a slow Redis).
 */
async function startRelay() {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  let held: Array<() => void> | null = null;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
          sockets.add(from);
          from.on('error', () => from.destroy());
          from.on('close', () => {
            sockets.delete(from);
            to.destroy();
          });
          from.on('data', (chunk: Buffer) => {
            if (held && from === client) held.push(() => to.write(chunk));
            else to.write(chunk);
          });
        }
      });
      s.once('error', reject).listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = null;
    });
  await open();
  const url = new URL(TEST_REDIS_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const hold = () => void (held ??= []);
  const release = () => {
    const queued = held ?? [];
    held = null;
    for (const send of queued) send();
  };
  return { url: url.toString(), cut, restore: open, hold, release };
}

function contract(name: string, make: (t: Teardown, errors: Error[]) => BusBackend) {
  t.test(`${name} bus contract`, async (t) => {
    t.test('every subscriber gets every message, in publish order', async (t) => {
      const bus = make(t, []);
      const a: unknown[] = [];
      const b: unknown[] = [];
      await bus.subscribe('room', (m) => a.push(m));
      await bus.subscribe('room', (m) => b.push(m));
      const expected = Array.from({ length: 100 }, (_, n) => ({ n }));
      for (const m of expected) await bus.publish('room', m);
      await until(() => a.length === 100 && b.length === 100, '100 messages');
      t.same(a, expected, 'one after another');
      t.same(b, expected, 'the second subscriber too');

      const burst: unknown[] = [];
      await bus.subscribe('burst', (m) => burst.push(m));
      await Promise.all(expected.map((m) => bus.publish('burst', m)));
      await until(() => burst.length === 100, '100 concurrent publishes');
      t.same(burst, expected, 'publishes not awaited one by one keep their order too');
    });

    t.test('unsubscribe stops delivery to that handler only; topics are separate', async (t) => {
      const bus = make(t, []);
      const gone: unknown[] = [];
      const stays: unknown[] = [];
      const other: unknown[] = [];
      const off = await bus.subscribe('t1', (m) => gone.push(m));
      await bus.subscribe('t1', (m) => stays.push(m));
      await bus.subscribe('t2', (m) => other.push(m));
      await bus.publish('t1', 'first');
      await until(() => gone.length === 1 && stays.length === 1, 'first');
      await off();
      await off();
      await bus.publish('t1', 'second');
      await bus.publish('t2', 'marker');
      await until(() => other.length === 1 && stays.length === 2, 'second and marker');
      t.same(gone, ['first'], 'nothing after unsubscribe');
      t.same(stays, ['first', 'second'], 'the other handler of the topic still receives');
      t.same(other, ['marker'], 't2 saw only its own message');
    });

    t.test('a throwing handler does not stop the others, and a message is a copy', async (t) => {
      const errors: Error[] = [];
      const bus = make(t, errors);
      const seen: Array<{ v: number }> = [];
      await bus.subscribe('x', () => {
        throw new Error('handler bug');
      });
      await bus.subscribe('x', (m) => {
        (m as { v: number }).v = 99;
      });
      await bus.subscribe('x', (m) => seen.push(m as { v: number }));
      const original = { v: 1 };
      await bus.publish('x', original);
      original.v = 2;
      await bus.publish('x', original);
      await until(() => seen.length === 2, 'delivery');
      t.same(seen, [{ v: 1 }, { v: 2 }], 'later handlers see each message as published, unchanged');
      t.same(errors.map((e) => e.message), ['handler bug', 'handler bug'], 'each throw is reported');
    });

    t.test('publish refuses what JSON cannot carry', async (t) => {
      const bus = make(t, []);
      await t.rejects(bus.publish('x', undefined), TypeError);
      await t.rejects(bus.publish('x', 1n), TypeError);
    });

    t.test('counters', async (t) => {
      const bus = make(t, []);
      t.equal(await bus.getCounter('c'), 0, 'unset reads 0');
      t.equal(await bus.incr('c'), 1);
      t.equal(await bus.incr('c', 5), 6);
      t.equal(await bus.incr('c', -2), 4);
      t.equal(await bus.getCounter('c'), 4);
      await t.rejects(bus.incr('c', 1.5), RangeError, 'only whole numbers, as Redis INCRBY');
      t.equal(await bus.getCounter('c'), 4);
    });

    t.test('a counter set with a TTL disappears after it, unless set again', async (t) => {
      const bus = make(t, []);
      const before = Date.now();
      await bus.setCounter('gone', 7, 300);
      await bus.setCounter('renewed', 1, 300);
      t.equal(await bus.getCounter('gone'), 7, 'readable before its TTL');
      await bus.setCounter('renewed', 2, 60_000);
      await until(async () => (await bus.getCounter('gone')) === 0, 'expiry');
      t.ok(Date.now() - before >= 299, `gone after ${Date.now() - before} ms, not before its 300 ms TTL`);
      t.equal(await bus.getCounter('renewed'), 2, 'setting it again renewed the TTL');
    });

    t.test('token buckets: burst, refusal with retry time, refill, reset, cost', async (t) => {
      const bus = make(t, []);
      // One token a second: the takes below refill the bucket by the time they take, which on a
      // loaded machine can be far more than a few milliseconds, so the expected retry times are
      // bounded by the measured time (the bus's clock runs within it, to the millisecond).
      const spec = { capacity: 3, refillPerSecond: 1 };
      const results = [];
      const burstStarted = Date.now();
      for (let i = 0; i < 4; i++) results.push(await bus.take('b', spec));
      const burstMs = Date.now() - burstStarted;
      t.same(results.slice(0, 3).map((r) => [r.allowed, r.remaining, r.retryAfterMs]), [[true, 2, 0], [true, 1, 0], [true, 0, 0]], 'the burst is allowed');
      const refused = results[3]!;
      t.same([refused.allowed, refused.remaining], [false, 0], `the next take is refused (the four took ${burstMs} ms)`);
      t.ok(refused.retryAfterMs >= 1000 - burstMs - 1 && refused.retryAfterMs <= 1000, `retry after ${refused.retryAfterMs} ms: one token at 1/s, less the ${burstMs} ms of refill during the takes`);
      await sleepUntil(Date.now() + refused.retryAfterMs + 1);
      t.equal((await bus.take('b', spec)).allowed, true, 'allowed again after the retry time');

      await bus.resetBucket('b');
      const drainStarted = Date.now();
      t.same(await bus.take('b', spec, 3), { allowed: true, remaining: 0, retryAfterMs: 0 }, 'reset refills the bucket; cost 3 takes it all');
      const tooBig = await bus.take('b', spec, 2);
      const drainMs = Date.now() - drainStarted;
      t.equal(tooBig.allowed, false);
      t.ok(tooBig.retryAfterMs >= 2000 - drainMs - 1 && tooBig.retryAfterMs <= 2000, `retry after ${tooBig.retryAfterMs} ms: two tokens at 1/s, less the ${drainMs} ms between the takes`);
      t.equal((await bus.take('other', spec)).remaining, 2, 'buckets are independent');

      await t.rejects(bus.take('b', spec, 4), RangeError, 'a cost above the capacity could never be allowed');
      await t.rejects(bus.take('b', { capacity: 3, refillPerSecond: 0 }), RangeError, 'a bucket that never refills');
    });

    t.test('ping, and a closed bus takes no subscriptions', async (t) => {
      const bus = make(t, []);
      await t.resolves(bus.ping());
      await bus.close();
      await t.rejects(bus.subscribe('x', () => {}));
    });
  });
}

contract('memory', (t, errors) => {
  const bus = new MemoryBus((e) => errors.push(e));
  t.teardown(() => bus.close());
  return bus;
});
contract('redis', (t, errors) => redisBus(t, undefined, errors));

t.test('redis: one subscription per topic, held until its last handler leaves', async (t) => {
  const relay = await startRelay();
  t.teardown(relay.cut);
  const prefix = uniquePrefix('subs');
  const bus = redisBus(t, prefix, [], relay.url);
  await bus.subscribe('warm-up', () => {});
  relay.hold();
  const first = bus.subscribe('room', () => {});
  const second = bus.subscribe('room', () => {});
  t.equal(await settledWithin(100, second), 'pending', 'a second subscribe waits for the shared SUBSCRIBE too');
  relay.release();
  const offSecond = await second;
  t.equal(await subscribers(`${prefix}room`), 1, 'one Redis subscription for both handlers, active once subscribe resolves');
  await (await first)();
  t.equal(await subscribers(`${prefix}room`), 1, 'still subscribed while a handler remains');
  await offSecond();
  t.equal(await subscribers(`${prefix}room`), 0, 'the last handler unsubscribes');
});

t.test('redis: keys carry the prefix and expire', async (t) => {
  const prefix = uniquePrefix('keys');
  const bus = redisBus(t, prefix);
  await bus.take('login', { capacity: 5, refillPerSecond: 1 });
  await bus.setCounter('presence', 1, 10_000);
  t.same((await keysUnder(prefix)).sort(), [`${prefix}bucket:login`, `${prefix}counter:presence`]);
  const ttl = await withAdmin((redis) => redis.pttl(`${prefix}bucket:login`));
  t.ok(ttl > 0 && ttl <= 2000, `a bucket lives about as long as it takes to refill (${ttl} ms)`);
});

t.test('redis: two nodes share messages, counters and buckets', async (t) => {
  const prefix = uniquePrefix('nodes');
  const a = redisBus(t, prefix);
  const b = redisBus(t, prefix);
  const onA: unknown[] = [];
  const onB: unknown[] = [];
  await a.subscribe('chat', (m) => onA.push(m));
  await b.subscribe('chat', (m) => onB.push(m));
  await a.publish('chat', 'from a');
  await b.publish('chat', 'from b');
  await until(() => onA.length === 2 && onB.length === 2, 'both messages on both nodes');
  t.same(onA, ['from a', 'from b']);
  t.same(onB, ['from a', 'from b']);

  await a.incr('viewers', 3);
  await b.incr('viewers', 2);
  t.equal(await a.getCounter('viewers'), 5, 'one counter across nodes');
  await b.setCounter('node-b', 1, 10_000);
  t.equal(await a.getCounter('node-b'), 1, 'a presence counter set on one node is seen on the other');

  const spec = { capacity: 10, refillPerSecond: 0.01 };
  const takes = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).take('shared', spec)));
  t.equal(takes.filter((r) => r.allowed).length, 10, '50 concurrent takes from two nodes: exactly the capacity is allowed');
  await a.resetBucket('shared');
  t.equal((await b.take('shared', spec)).remaining, 9, 'a reset on one node refills the bucket for the other');
});

t.test('redis: a different prefix is a different deployment', async (t) => {
  const prefix = uniquePrefix('mine');
  const a = redisBus(t, prefix);
  const stranger = redisBus(t, uniquePrefix('other'));
  const onA: unknown[] = [];
  const onStranger: unknown[] = [];
  await a.subscribe('chat', (m) => onA.push(m));
  await stranger.subscribe('chat', (m) => onStranger.push(m));
  await a.incr('viewers', 3);
  await a.publish('chat', 'private');
  // Redis delivers to a connection in the order it ran the PUBLISHes: had 'private' leaked, it
  // would have reached the stranger before its own marker.
  await stranger.publish('chat', 'marker');
  await until(() => onStranger.length > 0 && onA.length > 0, 'own messages');
  t.same(onStranger, ['marker'], 'the stranger sees only its own messages');
  t.same(onA, ['private'], 'and the first bus only its own');
  t.equal(await stranger.getCounter('viewers'), 0, 'counters are separate');
});

t.test('redis: ping fails fast when Redis is unreachable', async (t) => {
  const bus = new RedisBus({ url: 'redis://127.0.0.1:1' });
  t.teardown(() => bus.close());
  t.equal(await settledWithin(5000, bus.ping()), 'rejected', 'a refused connection fails within 5 s');
});

t.test('redis: ping fails fast when Redis accepts connections but never answers', async (t) => {
  const sockets = new Set<net.Socket>();
  const hung = net.createServer((s) => sockets.add(s.on('error', () => {})));
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    hung.close();
  });
  // The default timeouts, as production runs them.
  const bus = new RedisBus({ url: `redis://127.0.0.1:${(hung.address() as AddressInfo).port}` });
  t.teardown(() => bus.close());
  t.equal(await settledWithin(5000, bus.ping()), 'rejected', 'a Redis that never answers fails within 5 s');
});

t.test('redis: through an outage, calls fail fast, then the bus recovers by itself', async (t) => {
  const relay = await startRelay();
  t.teardown(relay.cut);
  const prefix = uniquePrefix('outage');
  const errors: Error[] = [];
  const bus = redisBus(t, prefix, errors, relay.url);
  const direct = redisBus(t, prefix);
  const got: unknown[] = [];
  await bus.subscribe('room', (m) => got.push(m));
  await bus.ping();

  await relay.cut();
  t.equal(await settledWithin(5000, bus.ping()), 'rejected', 'ping fails within 5 s while Redis is out of reach');
  t.equal(await settledWithin(5000, bus.subscribe('later', () => {})), 'rejected', 'so does a new subscription');
  t.ok(errors.length >= 1 && errors.length <= 2, `the outage is reported once per connection (${errors.length})`);

  await relay.restore();
  const started = Date.now();
  await until(() => bus.ping().then(() => true, () => false), 'ping after the outage', 10_000);
  t.pass(`ping answers again ${Date.now() - started} ms after Redis came back`);
  // ioredis resubscribes in the background after reconnecting; publish until a message gets through.
  await until(
    async () => {
      await direct.publish('room', 'after the outage');
      return got.length > 0;
    },
    'the old subscription to be restored',
    10_000,
  );
  t.same(got[0], 'after the outage', 'the subscription made before the outage receives again');
  const later: unknown[] = [];
  await bus.subscribe('later', (m) => later.push(m));
  await direct.publish('later', 'hello');
  await until(() => later.length === 1, 'a subscription retried after the outage');
  t.same(later, ['hello'], 'the topic that failed during the outage can be subscribed now');
});
