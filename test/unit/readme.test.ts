// The README's configuration table is what operators read: it must list every variable the server
// reads, with the default the code really uses.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { CONFIG_VARS } from '../../src/config.ts';

t.test('the README documents every configuration variable with its real default', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());
  for (const [name, spec] of Object.entries(CONFIG_VARS)) {
    t.ok(rows.has(name), `${name} is in the table`);
    const shown = spec.default === '' ? '(empty)' : `\`${spec.default}\``;
    t.equal(rows.get(name), shown, `${name}: the table shows the default ${shown}`);
  }
  t.same([...rows.keys()].filter((name) => !(name in CONFIG_VARS)), [], 'the table lists no variable the server does not read');
});
