/** vitest globalSetup: provides what the tests need from the machine before any test runs (prerequisites.ts). */
import { ensurePrerequisites } from './prerequisites';

export default async function setup(): Promise<void> {
  await ensurePrerequisites();
}
