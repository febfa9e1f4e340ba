// Stream paths in log lines: whatever an encoder puts after the app, only the first segment stays.
import t from 'tap';
import { redactStreamPath } from '../../src/log.ts';

const KEY = 'live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

t.test('everything after the first segment is redacted, however many slashes or queries follow', async (t) => {
  const cases: Array<[string, string]> = [
    [`/live/${KEY}`, '/live/[redacted]'],
    [`/live/a/b/${KEY}`, '/live/[redacted]'],
    [`/live/X/${KEY}`, '/live/[redacted]'],
    [`/live/x?key=${KEY}`, '/live/[redacted]'],
    [`/live?key=${KEY}`, '/live/[redacted]'],
    [`live/${KEY}/${KEY}`, '/live/[redacted]'],
    [`/other/${KEY}`, '/other/[redacted]'],
    [KEY, '/[redacted]'],
  ];
  for (const [input, expected] of cases) {
    const out = redactStreamPath(input);
    t.equal(out, expected, input.replace(KEY, 'KEY'));
    t.notOk(out.includes(KEY.slice(5, 20)), 'no part of the key survives');
  }
});
