import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

/**
 * Ends every run with the Node.js version the tests ran on, then the plain line CI counts:
 * `N passed, N failed` (`, N skipped` when any were).
 * Skipped tests are a lint error (noSkippedTests), so the skipped count should stay at zero. A test that
 * did not run because a hook of its file or suite failed (vitest reports it as skipped) counts as failed.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed' || hookFailed(test)) failed++;
        else skipped++;
      }
      // A module that failed to load has no tests but is a failure all the same.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\nNode.js ${process.version}\n${passed} passed, ${failed} failed${tail}\n`);
  }
}

/** True when the test's file or one of its suites recorded an error outside tests (a failed hook). */
function hookFailed(test: TestCase): boolean {
  for (let p: TestSuite | TestModule = test.parent; ; p = p.parent) {
    if (p.errors().length > 0) return true;
    if (p.type === 'module') return false;
  }
}
