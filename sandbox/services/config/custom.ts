/**
 * Custom Lambda rules as Config runs them: the rule's function is invoked by `config.amazonaws.com`
 * (its function policy must admit Config, with the rule's account and ARN as `aws:SourceAccount` /
 * `aws:SourceArn`) with AWS's event — `invokingEvent` (a JSON string: the configuration item of the
 * changed resource, or a ScheduledNotification for periodic rules), `ruleParameters`, `resultToken`,
 * `eventLeftScope`, `executionRoleArn`, `configRuleArn`, `configRuleName`, `configRuleId`, `accountId`,
 * `version` — and reports back with PutEvaluations(ResultToken), checked here as Config checks it.
 */
import { randomBytes } from 'node:crypto';
import { asService, authorizeService } from '../../core/authz';
import { functionRegistry } from '../../core/functions';
import { AwsError, type RequestContext, type SandboxContext } from '../../core/types';
import { isObj, type Obj, str } from '../state';
import { CONFIG_RESOURCE_TYPES } from './discovery';
import type { ComplianceType } from './evaluators';
import { discovered } from './recorder';

/** Source.SourceDetails as PutConfigRule takes them. */
export interface SourceDetail {
  EventSource?: string;
  MessageType?: string;
  MaximumExecutionFrequency?: string;
}

/** The rule fields this module reads (index.ts's Rule has them). */
export interface CustomRule {
  ConfigRuleName: string;
  ConfigRuleArn: string;
  ConfigRuleId: string;
  InputParameters?: string;
  MaximumExecutionFrequency?: string;
  Scope?: { ComplianceResourceTypes?: string[] };
  Source: { Owner: string; SourceIdentifier: string; SourceDetails?: SourceDetail[] };
}

/** What a ResultToken stands for: one invocation of one rule. */
export interface Invocation {
  ruleName: string;
  invoked: Date;
}

/** One evaluation PutEvaluations accepted, to be recorded as the rule's result. */
export interface Accepted {
  resourceType: string;
  resourceId: string;
  compliance: ComplianceType;
  annotation?: string;
  ordering: Date;
}

const FREQUENCY_SECONDS: Record<string, number> = {
  One_Hour: 3600,
  Three_Hours: 3 * 3600,
  Six_Hours: 6 * 3600,
  Twelve_Hours: 12 * 3600,
  TwentyFour_Hours: 24 * 3600,
};

/** A ConfigRule's or SourceDetail's MaximumExecutionFrequency, validated as Config does (undefined: none). */
export function checkedFrequency(frequency: string | undefined): string | undefined {
  if (frequency && !(frequency in FREQUENCY_SECONDS))
    throw new AwsError('InvalidParameterValueException', `The frequency ${frequency} is invalid.`);
  return frequency;
}

/** The account pseudo-type periodic rules may report on (results only, no configuration items). */
const ACCOUNT_TYPE = 'AWS::::Account';

/** Seconds between a periodic run's invocations (AWS's default for periodic rules: 24 hours). */
export function frequencySeconds(frequency: string | undefined): number {
  return FREQUENCY_SECONDS[frequency ?? 'TwentyFour_Hours'] ?? 24 * 3600;
}

/** Whether a custom rule is invoked on configuration changes (its SourceDetails, or none given). */
export function changeTriggered(rule: CustomRule): boolean {
  const details = rule.Source.SourceDetails ?? [];
  return details.length === 0 || details.some((d) => d.MessageType !== 'ScheduledNotification');
}

/** The periodic frequency of a custom rule, or undefined when it is not periodic. */
export function customFrequency(rule: CustomRule): string | undefined {
  const scheduled = (rule.Source.SourceDetails ?? []).find((d) => d.MessageType === 'ScheduledNotification');
  if (!scheduled) return undefined;
  return scheduled.MaximumExecutionFrequency ?? rule.MaximumExecutionFrequency ?? 'TwentyFour_Hours';
}

/** PutConfigRule's Source.SourceDetails, validated as Config does (known message types and frequencies). */
export function sourceDetailsOf(source: Obj): SourceDetail[] | undefined {
  if (!Array.isArray(source.SourceDetails)) return undefined;
  return source.SourceDetails.filter(isObj).map((d) => {
    const type = str(d.MessageType);
    const frequency = checkedFrequency(str(d.MaximumExecutionFrequency));
    return {
      ...(str(d.EventSource) ? { EventSource: str(d.EventSource) } : {}),
      ...(type ? { MessageType: type } : {}),
      ...(frequency ? { MaximumExecutionFrequency: frequency } : {}),
    };
  });
}

/** The role Config's calls and its events name: the recorder's, else Config's service-linked role. */
export function configRoleArn(sandbox: SandboxContext, recorderRole: string | undefined): string {
  return (
    recorderRole ??
    `arn:aws:iam::${sandbox.accountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`
  );
}

/**
 * The configuration item Config delivers for a resource (recordVersion 1.3): the one the recorder
 * recorded (recorder.ts), `ResourceDeleted` with no configuration once the resource is gone.
 */
export function configurationItem(
  sandbox: SandboxContext,
  resourceType: string,
  resourceId: string,
  tags: Record<string, string> | undefined,
): Obj {
  const d = discovered(sandbox, resourceType).find((x) => x.resourceId === resourceId);
  const now = d?.captureTime ?? sandbox.clock.now();
  return {
    relatedEvents: [],
    relationships: [],
    configuration: d ? d.configuration : null,
    supplementaryConfiguration: d ? d.supplementaryConfiguration : {},
    tags: d ? (tags ?? {}) : {},
    configurationItemVersion: '1.3',
    configurationItemCaptureTime: now.toISOString(),
    configurationStateId: now.getTime(),
    awsAccountId: sandbox.accountId,
    configurationItemStatus: d ? 'OK' : 'ResourceDeleted',
    resourceType,
    resourceId,
    ...(d ? { resourceName: d.resourceName, ARN: d.arn } : {}),
    awsRegion: sandbox.region,
    availabilityZone: 'Not Applicable',
    ...(d?.createdAt ? { resourceCreationTime: d.createdAt.toISOString() } : {}),
  };
}

/** The invokingEvent of a configuration change (configurationItem) or of a periodic run (ScheduledNotification). */
export function invokingEvent(sandbox: SandboxContext, item: Obj | undefined): Obj {
  const notificationCreationTime = sandbox.clock.now().toISOString();
  return item
    ? {
        configurationItemDiff: null,
        configurationItem: item,
        notificationCreationTime,
        messageType: 'ConfigurationItemChangeNotification',
        recordVersion: '1.3',
      }
    : {
        awsAccountId: sandbox.accountId,
        notificationCreationTime,
        messageType: 'ScheduledNotification',
        recordVersion: '1.0',
      };
}

function newToken(): string {
  return randomBytes(96).toString('base64');
}

/**
 * Invokes a custom rule's function as Config: mints the invocation's ResultToken (in `tokens`), checks the
 * function policy for `config.amazonaws.com`, and runs the function as Lambda's asynchronous invocation
 * would. Resolves to the error when the invocation failed (the rule's evaluation status shows it).
 */
export async function invokeRuleFunction(
  sandbox: SandboxContext,
  rule: CustomRule,
  event: { invoking: Obj; leftScope: boolean; executionRoleArn: string },
  tokens: Map<string, Invocation>,
): Promise<Error | undefined> {
  const token = newToken();
  const invoked = sandbox.clock.now();
  tokens.set(token, { ruleName: rule.ConfigRuleName, invoked });
  const payload = {
    version: '1.0',
    invokingEvent: JSON.stringify(event.invoking),
    ruleParameters: rule.InputParameters ?? '{}',
    resultToken: token,
    eventLeftScope: event.leftScope,
    executionRoleArn: event.executionRoleArn,
    configRuleArn: rule.ConfigRuleArn,
    configRuleName: rule.ConfigRuleName,
    configRuleId: rule.ConfigRuleId,
    accountId: sandbox.accountId,
  };
  const fn = rule.Source.SourceIdentifier;
  try {
    await authorizeService(sandbox, 'config.amazonaws.com', 'lambda:InvokeFunction', fn, sandbox.region, {
      'aws:SourceAccount': sandbox.accountId,
      'aws:SourceArn': rule.ConfigRuleArn,
    });
    if (!functionRegistry(sandbox).get(fn))
      throw new AwsError('ResourceNotFoundException', `Function not found: ${fn}`, 404);
  } catch (err) {
    // Lambda refused the invocation: Config's own failure, in the rule's evaluation status (Lambda's codes).
    const error = err instanceof AwsError && err.code === 'AccessDenied' ? lambdaDenied(err) : (err as Error);
    sandbox.log(`config: ${rule.ConfigRuleName} could not invoke ${fn}: ${error.name}: ${error.message}`);
    return error;
  }
  // An asynchronous (Event) invocation: the function's own failure is its log's, not Config's.
  void asService(() => sandbox.invokeFunction(fn, payload)).catch((err: unknown) =>
    sandbox.log(`config: rule function ${fn.slice(fn.lastIndexOf(':') + 1)} failed: ${errorText(err)}`),
  );
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Lambda's own refusal of an invocation its function policy does not admit. */
function lambdaDenied(err: AwsError): AwsError {
  return new AwsError('AccessDeniedException', err.message, 403);
}

const COMPLIANCE_FOR_PUT = ['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE'];

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', message);
}

/** A JSON protocol timestamp: epoch seconds (as the SDKs send it), an ISO string, or a Date. */
function timestampOf(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v * 1000);
  const s = String(v);
  return /^\d+(\.\d+)?$/.test(s) ? new Date(Number(s) * 1000) : new Date(s);
}

/** One Evaluation of a PutEvaluations request, checked against the rule's scope. */
function acceptedOf(e: Obj, rule: CustomRule): Accepted {
  const resourceType = str(e.ComplianceResourceType) ?? '';
  const resourceId = str(e.ComplianceResourceId) ?? '';
  const compliance = str(e.ComplianceType) ?? '';
  if (resourceType !== ACCOUNT_TYPE && !CONFIG_RESOURCE_TYPES.has(resourceType)) {
    throw invalid(
      `The resource type ${resourceType} is invalid. Only the following values are permitted: [${[...CONFIG_RESOURCE_TYPES].sort().join(', ')}]`,
    );
  }
  const scoped = rule.Scope?.ComplianceResourceTypes ?? [];
  if (scoped.length > 0 && !scoped.includes(resourceType) && resourceType !== ACCOUNT_TYPE) {
    throw invalid(
      `The resource type ${resourceType} is not in the scope of the Config rule ${rule.ConfigRuleName} (${scoped.join(', ')}).`,
    );
  }
  if (resourceId === '' || resourceId.length > 768) throw invalid('The ComplianceResourceId is invalid.');
  if (!COMPLIANCE_FOR_PUT.includes(compliance)) {
    throw invalid(
      `The compliance type ${compliance} is invalid. Only COMPLIANT, NON_COMPLIANT and NOT_APPLICABLE are permitted.`,
    );
  }
  const ordering = timestampOf(e.OrderingTimestamp);
  if (Number.isNaN(ordering.getTime())) throw invalid('The OrderingTimestamp is invalid.');
  const annotation = str(e.Annotation);
  return {
    resourceType,
    resourceId,
    compliance: compliance as ComplianceType,
    ...(annotation !== undefined ? { annotation: annotation.slice(0, 256) } : {}),
    ordering,
  };
}

/**
 * PutEvaluations: the evaluations a custom rule's function reports for the invocation its ResultToken
 * names (InvalidResultTokenException for a token Config did not issue; TestMode checks and records
 * nothing). Every evaluation is checked before any is recorded, so a bad one changes nothing.
 */
export function checkEvaluations(
  input: Obj,
  ctx: RequestContext,
  tokens: Map<string, Invocation>,
  ruleNamed: (name: string) => CustomRule | undefined,
): { invocation?: Invocation; accepted: Accepted[] } {
  const token = str(input.ResultToken);
  if (token === undefined)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'resultToken' failed to satisfy constraint: Member must not be null",
    );
  const evaluations = Array.isArray(input.Evaluations) ? input.Evaluations.filter(isObj) : [];
  if (evaluations.length > 100)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value at 'evaluations' failed to satisfy constraint: Member must have length less than or equal to 100",
    );
  const testMode = input.TestMode === true;
  const invocation = tokens.get(token);
  const rule = invocation ? ruleNamed(invocation.ruleName) : undefined;
  if (!testMode && (!invocation || !rule)) {
    ctx.sandbox.log('config: PutEvaluations with a ResultToken Config did not issue');
    throw new AwsError('InvalidResultTokenException', 'The resultToken provided is invalid');
  }
  const anyRule: CustomRule = rule ?? {
    ConfigRuleName: '',
    ConfigRuleArn: '',
    ConfigRuleId: '',
    Source: { Owner: 'CUSTOM_LAMBDA', SourceIdentifier: '' },
  };
  const accepted = evaluations.map((e) => acceptedOf(e, anyRule));
  return testMode || !invocation ? { accepted: [] } : { invocation, accepted };
}
