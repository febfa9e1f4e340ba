// The lease keeper's rules, with the database replaced by a stand-in that can fail on demand:
// failed renewals (PostgreSQL unreachable) never stop a stream; a successful renewal that no longer
// finds a held session stops it; expired sessions of other nodes are announced once; revocations
// from the bus reach the live manager.
import t from 'tap';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { createLogger } from '../../src/log.ts';
import { LeaseKeeper, REVOKE_TOPIC } from '../../packager/lease-keeper.ts';
import type { SessionLeases } from '../../packager/session-leases.ts';
import { until } from '../helpers/media.ts';

function stubLeases() {
  const state = { failing: false, open: new Set<string>(), renewals: 0, failures: 0, expired: [] as Array<{ id: string; channelId: string; ownerNode: string }> };
  const leases = {
    endOwnInterrupted: async () => [],
    renew: async () => {
      if (state.failing) {
        state.failures++;
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      }
      state.renewals++;
      return new Set(state.open);
    },
    claimExpired: async () => {
      if (state.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return state.expired.splice(0);
    },
  } as unknown as SessionLeases;
  return { state, leases };
}

t.test('renewals that fail never stop a stream; a session ended elsewhere is stopped', async (t) => {
  const bus = new MemoryBus();
  const { state, leases } = stubLeases();
  const lost: string[] = [];
  const keeper = new LeaseKeeper({ leases, bus, log: createLogger('silent'), leaseMs: 2500, onLost: async (id) => void lost.push(id), onRevoke: async () => {} });
  t.teardown(() => keeper.close());
  await keeper.start();
  keeper.hold('s1');
  state.open.add('s1');
  await until(() => state.renewals >= 2, 'two renewals', 10_000);

  state.failing = true;
  await until(() => state.failures >= 4, 'four failed renewals (the database is down)', 10_000);
  t.same(lost, [], 'no session is stopped while the database is unreachable');
  state.failing = false;
  const before = state.renewals;
  await until(() => state.renewals > before, 'a renewal once the database is back', 10_000);
  t.same(lost, [], 'and none once it is back');

  // Another node found the lease expired and ended the session: the next renewal no longer has it.
  state.open.delete('s1');
  await until(() => lost.length > 0, 'the lost session to be stopped', 10_000);
  t.same(lost, ['s1'], 'the held session missing from a renewal is stopped');
  keeper.release('s1');
});

t.test("other nodes' expired sessions are announced once; revocations reach every node", async (t) => {
  const bus = new MemoryBus();
  const ended: unknown[] = [];
  await bus.subscribe('stream.ended', (m) => ended.push(m));
  const { state, leases } = stubLeases();
  state.expired.push({ id: 's9', channelId: 'c9', ownerNode: 'other' });
  const revoked: Array<[string, string]> = [];
  const keeper = new LeaseKeeper({ leases, bus, log: createLogger('silent'), leaseMs: 2500, onLost: async () => {}, onRevoke: async (channelId, reason) => void revoked.push([channelId, reason]) });
  t.teardown(() => keeper.close());
  await keeper.start();
  await until(() => ended.length > 0, 'the node-lost announcement', 5000);
  t.same(ended, [{ sessionId: 's9', channelId: 'c9', reason: 'node-lost' }]);

  t.equal(await keeper.revoke('c1', 'key-rotated'), true, 'a revocation is announced on the bus');
  await until(() => revoked.length > 0, 'the revocation to arrive', 5000);
  t.same(revoked, [['c1', 'key-rotated']]);
  await bus.publish(REVOKE_TOPIC, { channelId: 42 });
  await bus.publish(REVOKE_TOPIC, { channelId: 'c2', reason: 'suspended' });
  await until(() => revoked.length > 1, 'the second revocation', 5000);
  t.same(revoked, [['c1', 'key-rotated'], ['c2', 'suspended']], 'a malformed message is ignored; the reason is passed through as given');
  t.same(ended.length, 1, 'announced once');
});
