// Prints the last line CI reads, exactly "N passed, N failed", from vitest's
// JSON report (skipped tests, if any, on the line before). A missing report
// counts as one failure.
import { readFileSync } from 'node:fs';

let report;
try {
  report = JSON.parse(readFileSync(process.argv[2] ?? 'test-results/vitest.json', 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A file that fails to load fails no single test: count such suites as failures.
const failed = report.numFailedTests || (report.success ? 0 : Math.max(1, report.numFailedTestSuites));
if (skipped) console.log(`${skipped} skipped`);
console.log(`${report.numPassedTests} passed, ${failed} failed`);
