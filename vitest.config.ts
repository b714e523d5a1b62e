import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Provides the machine-level needs (the packaged browser, system packages) before any test: prerequisites.ts.
    globalSetup: ['test/setup/global.ts'],
    reporters: ['default', './test/reporters/summary.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The test processes run AsyncLocalStorage as `npm start` and the bench do (package.json): on async context
    // frames, not async_hooks' promise hooks. Node 22 refuses this flag in NODE_OPTIONS.
    execArgv: ['--experimental-async-context-frame'],
    // Screenshots and other artifacts that a run produces land in test-artifacts/ (git-ignored).
    env: {
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    },
  },
});
