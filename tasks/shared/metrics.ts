/**
 * One Powertools Metrics per process, for the tasks that emit metrics (intake, record-outcome); its own
 * module so the other bundles leave Metrics out. Namespace from POWERTOOLS_METRICS_NAMESPACE (infra sets
 * it on every function), the same as here.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';

export const metrics = new Metrics({ serviceName: 'drift-remediation', namespace: 'DriftRemediation' });
