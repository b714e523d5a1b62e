#!/usr/bin/env node
// npx drift-remediation … → the TypeScript CLI through tsx (a runtime dependency).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// AsyncLocalStorage on Node's async context frames instead of async_hooks' promise hooks (the sandbox's
// clocks, callers and handler invocations use it on every call); Node 22 refuses the flag in NODE_OPTIONS.
const r = spawnSync(
  process.execPath,
  [
    '--experimental-async-context-frame',
    '--import',
    'tsx',
    join(here, '..', 'cli.ts'),
    ...process.argv.slice(2),
  ],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
