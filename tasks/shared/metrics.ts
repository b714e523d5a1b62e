/**
 * One Powertools Metrics per process, for the tasks that emit metrics (intake, notify, record-outcome);
 * its own module so the other bundles leave Metrics out. Namespace from POWERTOOLS_METRICS_NAMESPACE (infra sets
 * it on every function), the same as here.
 *
 * Metrics writes its own diagnostics to the console unless given a logger: they go through the task's
 * Logger instead (structured, at the function's log level). "No application metrics to publish" is an
 * expected case here, not a warning — intake emits nothing for an event it drops as a duplicate — so it
 * is logged at DEBUG; every other diagnostic stays a WARN.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logger } from './powertools.js';

const EMPTY_METRICS = 'No application metrics to publish';

export const metricsDiagnostics = {
  debug: (...content: unknown[]): void => logger.debug(String(content[0])),
  info: (...content: unknown[]): void => logger.info(String(content[0])),
  warn: (...content: unknown[]): void => {
    const message = String(content[0]);
    if (message.startsWith(EMPTY_METRICS)) logger.debug(message);
    else logger.warn(message);
  },
  error: (...content: unknown[]): void => logger.error(String(content[0])),
};

export const metrics = new Metrics({
  serviceName: 'drift-remediation',
  namespace: 'DriftRemediation',
  logger: metricsDiagnostics,
});
