/**
 * The approval page in a real browser (the Chromium of the @sparticuz/chromium package, via
 * playwright-core; test/setup/browser.ts) against the local approval stack (harness.ts). Screenshots land
 * in test-artifacts/approvals/.
 */
import { defineBrowserApprovalTests } from './support/browser-scenarios';
import { startLocalApprovals } from './support/harness';

defineBrowserApprovalTests('local endpoint, dynalite, mocked Step Functions', () => startLocalApprovals());
