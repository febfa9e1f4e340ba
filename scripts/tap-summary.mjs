// Reads the suite's TAP output and prints one plain closing line: "N passed, N failed, N skipped"
// (every test point, assertions and subtests alike). With CI=true a skipped point fails the run:
// in CI nothing may be skipped.
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n');
let passed = 0;
let failed = 0;
const skipped = [];
for (const line of lines) {
  const m = /^\s*(not ok|ok) \d+(.*)$/.exec(line);
  if (!m) continue;
  if (/#\s*(SKIP|TODO)/i.test(m[2])) skipped.push(line.trim());
  else if (m[1] === 'ok') passed++;
  else failed++;
}
for (const s of skipped) console.log(`skipped: ${s}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(failed > 0 || (process.env.CI === 'true' && skipped.length > 0) ? 1 : 0);
