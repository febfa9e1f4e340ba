import t from 'tap';
import { SocketCounter, addressKey } from '../../chat/socket-limits.ts';

t.test('addressKey: IPv4 as is, IPv6 by its /64', async (t) => {
  t.equal(addressKey('203.0.113.7'), '203.0.113.7');
  t.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7', 'an IPv4-mapped address is its IPv4 address');
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64', 'leading zeros and :: do not matter');
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(addressKey('2001:db8:0:0:ffff::9'), addressKey('2001:db8::1'), 'two addresses of one /64 share a key');
  t.not(addressKey('2001:db8:0:1::1'), addressKey('2001:db8::1'), 'another /64 does not');
  t.equal(addressKey('::1'), '0:0:0:0::/64');
});

t.test('SocketCounter: up to max per key, released one by one', async (t) => {
  const c = new SocketCounter(2);
  t.ok(c.tryAcquire('a'));
  t.ok(c.tryAcquire('a'));
  t.notOk(c.tryAcquire('a'), 'the third is refused');
  t.ok(c.tryAcquire('b'), 'another key is not affected');
  c.release('a');
  t.ok(c.tryAcquire('a'), 'a released place can be taken again');
  c.release('a');
  c.release('a');
  t.equal(c.count('a'), 0);
});
