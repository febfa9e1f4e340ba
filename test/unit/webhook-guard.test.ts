// The SSRF guard and the signature, without a network: addresses by range, names through a
// resolver that answers what a hostile DNS server would, and the Stripe-style signature.
import t from 'tap';
import { signature, verifySignature } from '../../social/webhook-delivery.ts';
import { checkWebhookUrl, isPrivateAddress } from '../../social/webhook-url-guard.ts';

t.test('private, loopback, link-local and reserved addresses', async (t) => {
  for (const a of ['127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fd12:3456::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '64:ff9b::a00:1', 'not-an-ip']) {
    t.ok(isPrivateAddress(a), `${a} is refused`);
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) t.notOk(isPrivateAddress(a), `${a} is public`);
});

t.test('webhook URLs', async (t) => {
  const dns = (answers: Record<string, string[]>) => async (host: string) => {
    if (!(host in answers)) throw new Error('ENOTFOUND');
    return answers[host]!;
  };
  const resolve = dns({ 'hooks.example.com': ['93.184.216.34'], 'rebind.example.com': ['93.184.216.34', '10.0.0.1'], 'inside.example.com': ['192.168.0.10'] });
  t.equal((await checkWebhookUrl('https://hooks.example.com/x', false, resolve)).hostname, 'hooks.example.com');
  for (const [url, code] of [
    ['https://inside.example.com/x', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://rebind.example.com/x', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://127.0.0.1/x', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://[::1]:8443/x', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://nowhere.example.com/x', 'WEBHOOK_URL_INVALID'],
    ['http://hooks.example.com/x', 'WEBHOOK_URL_INVALID'],
    ['ftp://hooks.example.com/x', 'WEBHOOK_URL_INVALID'],
    ['https://user:pw@hooks.example.com/x', 'WEBHOOK_URL_INVALID'],
    ['not a url', 'WEBHOOK_URL_INVALID'],
  ] as const) {
    await t.rejects(checkWebhookUrl(url, false, resolve), { code }, url);
  }
  t.ok(await checkWebhookUrl('http://127.0.0.1:9/x', true, resolve), 'WEBHOOK_ALLOW_PRIVATE lets tests use loopback http');
});

t.test('signatures', async (t) => {
  const body = '{"type":"stream.started"}';
  const sig = signature('whsec_test', 1700000000, body);
  t.match(sig, /^v1=[0-9a-f]{64}$/);
  t.ok(verifySignature('whsec_test', 1700000000, body, sig));
  t.notOk(verifySignature('whsec_other', 1700000000, body, sig), 'another secret');
  t.notOk(verifySignature('whsec_test', 1700000000, body + ' ', sig), 'another body');
  t.notOk(verifySignature('whsec_test', 1700000000, body, 'v1=00'), 'a malformed header');
});
