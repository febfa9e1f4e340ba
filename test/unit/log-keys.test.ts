// A log line names each key once: nested children and calls that repeat a binding included.
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger, logDestination } from '../../src/log.ts';
import { duplicateKeys } from '../helpers/json-duplicate-keys.ts';
import { until } from '../helpers/media.ts';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

t.test('the duplicate finder itself', async (t) => {
  t.same(duplicateKeys('{"a":1,"b":{"a":2},"a":3}'), ['a']);
  t.same(duplicateKeys('{"a":"}\\"a\\":","b":[{"a":1},{"a":2}]}'), []);
  t.same(duplicateKeys('{"x":{"y":1,"y":2}}'), ['y']);
});

t.test('a child that rebinds a key, and a call that repeats one, print it once with the innermost value', async (t) => {
  const { log, lines } = capture();
  const ingest = log.child({ mod: 'ingest' });
  const component = ingest.child({ mod: 'ingest' });
  component.info('same binding twice');
  const worker = component.child({ mod: 'rtmp-worker' });
  worker.warn('a nested component');
  const vod = log.child({ mod: 'archiver' }).child({ session: 's1', vod: 'v1' });
  vod.info({ vod: 'v1', durationS: 3 }, 'a call repeating a binding');
  vod.info({ vod: 'v2' }, 'a call overriding a binding');
  vod.error({ err: new Error('boom') }, 'with an error');
  vod.info({ pid: 4242 }, 'a call naming one of pino\'s own keys');
  t.equal(lines.length, 6);
  for (const line of lines) t.same(duplicateKeys(line), [], line);
  const parsed = lines.map((line) => JSON.parse(line));
  t.equal(parsed[0].mod, 'ingest');
  t.equal(parsed[1].mod, 'rtmp-worker', 'the innermost component names the line');
  t.match(parsed[2], { mod: 'archiver', session: 's1', vod: 'v1', durationS: 3 });
  t.equal(parsed[3].vod, 'v2');
  t.match(parsed[4], { vod: 'v1', err: { message: 'boom' } });
  t.equal(parsed[5].pid, process.pid, 'the server\'s pid stays');
  t.same(parsed[5].fields, { pid: 4242 }, 'the call\'s value is kept beside it');
});

t.test('redaction still applies to children made this way', async (t) => {
  const { log, lines } = capture();
  log.child({ mod: 'a' }).child({ mod: 'b' }).info({ streamKey: 'live_secret', nested: { token: 'tok' } }, 'secrets');
  t.notOk(lines[0]!.includes('live_secret'));
  t.notOk(lines[0]!.includes('tok"'));
});

t.test('at a terminal the lines are for people; elsewhere JSON', async (t) => {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const pretty = createLogger('info', logDestination({ isTTY: true }, sink));
  pretty.child({ mod: 'ingest' }).info({ port: 1935, streamKey: 'live_hidden' }, 'rtmp ingest listening');
  const text = await until(() => (out.join('').includes('\n') ? out.join('') : null), 'the pretty line', 5000);
  t.match(text, /INFO.*rtmp ingest listening/, 'level and message on one readable line');
  t.match(text, /"mod":"ingest"/, 'fields after it');
  t.throws(() => JSON.parse(text.split('\n')[0]!), 'not JSON');
  t.notOk(text.includes('live_hidden'), 'still redacted');
  t.equal(logDestination({ isTTY: false }, sink), sink, 'not a terminal: the JSON stream as it is');
});
