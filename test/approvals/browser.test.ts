/**
 * The approval page in a real browser (Debian chromium via playwright-core) against the local
 * approval stack (harness.ts). Fails with "install Debian chromium: apt-get install chromium" when
 * chromium is missing. Screenshots land in test-artifacts/approvals/.
 */
import { defineBrowserApprovalTests } from './support/browser-scenarios';
import { startLocalApprovals } from './support/harness';

defineBrowserApprovalTests('local endpoint, dynalite, mocked Step Functions', () => startLocalApprovals());
