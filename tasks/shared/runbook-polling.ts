/**
 * Polling budget of one runbook attempt, shared by Start runbook (first wait) and Check runbook
 * (later waits, timeout). Waits 2, 4, 8, 16, 30, 30, … seconds; 120 polls ≈ one hour per attempt,
 * about 600 history events per attempt at most (well inside the 25,000-event cap for 5 attempts).
 */
import type { BackoffOptions } from './polling';

export const RUNBOOK_BACKOFF: Readonly<BackoffOptions> = { initialSeconds: 2, factor: 2, maxSeconds: 30 };
export const DEFAULT_RUNBOOK_MAX_POLLS = 120;
