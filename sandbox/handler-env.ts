/**
 * The Powertools environment of the task handlers the sandbox runs in its own process: no tracing, no
 * metrics output, log level WARN unless POWERTOOLS_LOG_LEVEL (or the installer's `logLevel`) says otherwise.
 *
 * Set when this module is evaluated. It is the first import of sandbox/main.ts and sandbox/cli.ts, so the
 * environment is in place before any task module is: Powertools reads it once, when a task module builds
 * the process's Logger and Metrics (tasks/shared/powertools.ts, metrics.ts). Whatever the sandbox imports
 * later, in whatever order (the console shares task modules), the handlers log at the handlers' level.
 */
export type HandlerLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

/** The handlers' Powertools variables; `logLevel` wins over POWERTOOLS_LOG_LEVEL, then WARN. */
export function powertoolsEnv(logLevel?: HandlerLogLevel): Record<string, string> {
  return {
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: logLevel ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };
}

/** Puts powertoolsEnv(logLevel) into this process's environment. */
export function applyPowertoolsEnv(logLevel?: HandlerLogLevel): void {
  Object.assign(process.env, powertoolsEnv(logLevel));
}

applyPowertoolsEnv();
