// A reporter for Node's test runner, used by run-tests.js beside the usual one: at the end of a run it
// prints how long each test file took (duration_ms, slowest first), and, when
// SKYVAULT_TEST_SUMMARY_FILE is set, writes the run's counts there as JSON so run-tests.js can print
// one closing line for all tiers.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export default async function* fileDurations(source) {
  const files = new Map();
  const counts = {};
  for await (const event of source) {
    const { data } = event;
    // The runner reports each file as a test of its own, named by its path (as given, on Node 24).
    if (
      event.type === 'test:complete' &&
      data.nesting === 0 &&
      data.file &&
      path.resolve(data.name) === path.resolve(data.file)
    ) {
      files.set(data.file, {
        ms: data.details.duration_ms,
        ok: data.details.passed,
      });
    }
    if (event.type === 'test:diagnostic' && data.nesting === 0 && !data.file) {
      const match = /^(tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(data.message);
      if (match) counts[match[1]] = Number(match[2]);
    }
  }
  const rows = [...files].sort((a, b) => b[1].ms - a[1].ms);
  yield '\n# duration_ms per test file (slowest first)\n';
  for (const [file, { ms, ok }] of rows) {
    yield `# ${String(Math.round(ms)).padStart(8)}  ${ok ? 'ok    ' : 'FAILED'}  ${path.relative(process.cwd(), file)}\n`;
  }
  if (process.env.SKYVAULT_TEST_SUMMARY_FILE)
    writeFileSync(process.env.SKYVAULT_TEST_SUMMARY_FILE, JSON.stringify(counts));
}
