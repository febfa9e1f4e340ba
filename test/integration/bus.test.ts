import t from 'tap';
import { Redis } from 'ioredis';
import type { Bus } from '../../src/bus/bus.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { RedisBus } from '../../src/bus/redis-bus.ts';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/services.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}

function redisBus(t: Teardown, prefix = uniquePrefix('bus'), errors: Error[] = []): RedisBus {
  const bus = new RedisBus({ url: TEST_REDIS_URL, prefix, onError: (e) => errors.push(e) });
  t.teardown(async () => {
    await bus.close();
    await dropPrefix(prefix);
  });
  return bus;
}

function contract(name: string, make: (t: Teardown, errors: Error[]) => Bus) {
  t.test(`${name} bus contract`, async (t) => {
    t.test('every subscriber gets every message, in order', async (t) => {
      const bus = make(t, []);
      const a: unknown[] = [];
      const b: unknown[] = [];
      await bus.subscribe('room', (m) => a.push(m));
      await bus.subscribe('room', (m) => b.push(m));
      for (let i = 0; i < 100; i++) await bus.publish('room', { n: i });
      await until(() => a.length === 100 && b.length === 100, '100 messages');
      t.same(a, Array.from({ length: 100 }, (_, n) => ({ n })));
      t.same(b, a);
    });

    t.test('unsubscribe stops delivery; other topics are separate', async (t) => {
      const bus = make(t, []);
      const got: unknown[] = [];
      const other: unknown[] = [];
      const off = await bus.subscribe('t1', (m) => got.push(m));
      await bus.subscribe('t2', (m) => other.push(m));
      await bus.publish('t1', 'first');
      await until(() => got.length === 1, 'first');
      await off();
      await bus.publish('t1', 'second');
      await bus.publish('t2', 'marker');
      await until(() => other.length === 1, 'marker on t2');
      t.same(got, ['first'], 'nothing after unsubscribe');
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
      await until(() => seen.length === 1, 'delivery');
      t.same(seen[0], { v: 1 }, 'the third handler sees the message unchanged');
      t.equal(original.v, 1, "the publisher's object is untouched");
      t.ok(errors.some((e) => e.message === 'handler bug'), 'the throw is reported');
    });

    t.test('counters', async (t) => {
      const bus = make(t, []);
      t.equal(await bus.getCounter('c'), 0);
      t.equal(await bus.incr('c'), 1);
      t.equal(await bus.incr('c', 5), 6);
      t.equal(await bus.incr('c', -2), 4);
      t.equal(await bus.getCounter('c'), 4);
      await bus.setCounter('presence', 7, 150);
      t.equal(await bus.getCounter('presence'), 7);
      await until(async () => (await bus.getCounter('presence')) === 0, 'expiry', 3000);
      t.pass('a counter set with a TTL disappears');
    });

    t.test('token buckets: burst, refusal with retry time, refill, reset, cost', async (t) => {
      const bus = make(t, []);
      const spec = { capacity: 3, refillPerSecond: 10 };
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await bus.take('b', spec));
      t.same(results.slice(0, 3).map((r) => r.allowed), [true, true, true], 'the burst is allowed');
      t.same(results.slice(0, 3).map((r) => r.remaining), [2, 1, 0]);
      const refused = results[3]!;
      t.equal(refused.allowed, false);
      t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 100, `retry after ${refused.retryAfterMs} ms (one token at 10/s)`);
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 20));
      t.equal((await bus.take('b', spec)).allowed, true, 'allowed again after the retry time');
      await bus.resetBucket('b');
      t.equal((await bus.take('b', spec, 3)).allowed, true, 'reset refills the bucket; cost 3 takes it all');
      const tooBig = await bus.take('b', spec, 2);
      t.equal(tooBig.allowed, false);
      t.ok(tooBig.retryAfterMs >= 150, 'two tokens take about 200 ms to come back');
      t.equal((await bus.take('other', spec)).allowed, true, 'buckets are independent');
    });

    t.test('ping', async (t) => {
      const bus = make(t, []);
      await t.resolves(bus.ping());
    });
  });
}

contract('memory', (t, errors) => {
  const bus = new MemoryBus((e) => errors.push(e));
  t.teardown(() => bus.close());
  return bus;
});
contract('redis', (t, errors) => redisBus(t, undefined, errors));

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

  const spec = { capacity: 10, refillPerSecond: 0.01 };
  const takes = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).take('shared', spec)));
  t.equal(takes.filter((r) => r.allowed).length, 10, '50 concurrent takes from two nodes: exactly the capacity is allowed');

  const stranger = redisBus(t, uniquePrefix('other'));
  const strange: unknown[] = [];
  await stranger.subscribe('chat', (m) => strange.push(m));
  await a.publish('chat', 'private');
  await until(() => onB.length === 3, 'third message');
  t.same(strange, [], 'another prefix sees nothing');
  t.equal(await stranger.getCounter('viewers'), 0);
});

t.test('redis: ping fails fast when Redis is unreachable', async (t) => {
  const bus = new RedisBus({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 1000 });
  t.teardown(() => bus.close());
  const started = Date.now();
  await t.rejects(bus.ping());
  t.ok(Date.now() - started < 5000, 'rejected within 5 s');
});
