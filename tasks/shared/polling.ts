/**
 * Bounded adaptive polling: the Wait state before each poll reads `waitSeconds` (SecondsPath) that
 * the previous check computed. Waits grow geometrically (2, 4, 8, 16, 30, 30, …) so short operations
 * finish quickly and long ones cost few state transitions; the poll count is bounded by `maxPolls`.
 */
export interface BackoffOptions {
  /** First wait, seconds (default 2). */
  initialSeconds?: number;
  /** Growth factor per poll (default 2). */
  factor?: number;
  /** Largest wait, seconds (default 30). */
  maxSeconds?: number;
}

/** The wait before poll number `polls + 1`, given `polls` polls done so far. Always an integer ≥ 1. */
export function nextWaitSeconds(polls: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialSeconds ?? 2;
  const factor = opts.factor ?? 2;
  const max = opts.maxSeconds ?? 30;
  const n = Math.max(0, Math.floor(polls));
  // Cap the exponent so a large poll count cannot overflow to Infinity before the min().
  const raw = initial * factor ** Math.min(n, 64);
  return Math.max(1, Math.min(max, Math.round(Number.isFinite(raw) ? raw : max)));
}

/** Polls that fit a time budget at a fixed interval: ceil(timeout / interval), at least 1, at most `cap`. */
export function maxPollsFor(timeoutSeconds: number, intervalSeconds: number, cap = 200): number {
  if (intervalSeconds <= 0) return 1;
  return Math.max(1, Math.min(cap, Math.ceil(timeoutSeconds / intervalSeconds)));
}

/** Total seconds spent waiting across `polls` adaptive waits (for sizing budgets and docs). */
export function totalWaitSeconds(polls: number, opts: BackoffOptions = {}): number {
  let total = 0;
  for (let i = 0; i < polls; i++) total += nextWaitSeconds(i, opts);
  return total;
}

/**
 * Polling sized to what is being waited for, so the lag (operation done → poll that sees it) stays within
 * `fraction` of the operation's duration: the first wait is a low estimate of the duration, every later
 * wait is `fraction` of the time elapsed so far (at least 1 s, Step Functions' Wait granularity). An
 * operation that ends at T > first wait is seen at most max(1 s, fraction × T) late.
 */
export interface ProportionalPolling {
  /** Low estimate of the operation's duration, seconds: the first wait. */
  firstWaitSeconds: number;
  /** Lag bound as a fraction of the elapsed time (default 0.1). */
  fraction?: number;
}

/** The wait before the next poll, given the seconds elapsed since the operation began. */
export function proportionalWaitSeconds(elapsedSeconds: number, fraction = 0.1): number {
  return Math.max(1, Math.floor(fraction * Math.max(0, elapsedSeconds)));
}

/** Polls needed to cover `timeoutSeconds` with proportional waits (for the poll bound and the history budget). */
export function proportionalPollsWithin(timeoutSeconds: number, p: ProportionalPolling): number {
  let t = Math.max(1, Math.floor(p.firstWaitSeconds));
  let polls = 1;
  while (t < timeoutSeconds) {
    t += proportionalWaitSeconds(t, p.fraction);
    polls++;
  }
  return polls;
}
