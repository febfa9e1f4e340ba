// Reads the suite's TAP output and prints one plain closing line: "N passed, N failed, N skipped"
// (every test point, assertions and subtests alike). With CI=true a skipped point fails the run:
// in CI nothing may be skipped. Each failed point is printed before that line with the subtests
// it sits in and the first lines of its diagnostics, so a CI log that keeps only its tail still
// says what failed and where.
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n');
const DIAGNOSTIC_LINES = 12;
let passed = 0;
let failed = 0;
const skipped = [];
const failures = [];
// The open "# Subtest: name" lines, by indentation, so a failure can name where it sits.
const open = [];
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
  if (sub) {
    const depth = sub[1].length;
    while (open.length > 0 && open[open.length - 1].depth >= depth) open.pop();
    open.push({ depth, name: sub[2] });
    continue;
  }
  const m = /^(\s*)(not ok|ok) \d+(.*)$/.exec(line);
  if (!m) continue;
  const depth = m[1].length;
  if (/#\s*(SKIP|TODO)/i.test(m[3])) skipped.push(line.trim());
  else if (m[2] === 'ok') passed++;
  else {
    failed++;
    // A subtest's own "not ok" closes it; the enclosing names are the ones opened above it.
    const where = open.filter((s) => s.depth < depth).map((s) => s.name);
    const diag = [];
    for (let j = i + 1; j < lines.length && diag.length < DIAGNOSTIC_LINES; j++) {
      const d = lines[j];
      if (/^\s*(not ok|ok) \d+/.test(d) || /^\s*# Subtest:/.test(d) || /^\s*1\.\.\d+/.test(d)) break;
      if (d.trim() !== '') diag.push(d.trim());
    }
    failures.push({ line: line.trim(), where, diag });
  }
  // A point at this depth closes the subtests opened deeper than it.
  while (open.length > 0 && open[open.length - 1].depth > depth) open.pop();
}
for (const f of failures) {
  console.log(`failed: ${[...f.where, f.line].join(' > ')}`);
  for (const d of f.diag) console.log(`    ${d}`);
}
for (const s of skipped) console.log(`skipped: ${s}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(failed > 0 || (process.env.CI === 'true' && skipped.length > 0) ? 1 : 0);
