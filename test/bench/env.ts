/**
 * Imported first by run.ts: Powertools reads these when its Logger and Metrics are built, which for the
 * bench is at import time (profile.ts imports the workflow definition, and with it the task modules) —
 * before the sandbox installer sets them. Without this every task invocation logs at INFO and prints
 * EMF metrics to stdout, a cost the bench would then measure as the sandbox's.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
