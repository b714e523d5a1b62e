/**
 * AWS Config (awsJson1.1, target StarlingDoveService): managed rules evaluated locally, custom Lambda
 * rules by invoking their function (custom.ts), which reports with PutEvaluations. Rules are
 * evaluated when created, on demand (StartConfigRulesEvaluation, with AWS's limits: ≤ 25 rules per
 * call, LimitExceededException while an evaluation runs or within a minute of the last call), and on
 * change: every configuration change the recorder records (recorder.ts) of a resource in a rule's scope
 * is evaluated after a short emulated delay, as Config does on a configuration item change. CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK
 * is triggered, as in AWS, by changes of the AWS::CloudFormation::Stack itself (never by a change to a
 * resource in the stack: that drift is found by the rule's periodic run, StartConfigRulesEvaluation, or a
 * drift detection someone runs). Periodic rules also run every MaximumExecutionFrequency on the sandbox
 * clock. Every compliance change emits the "Config Rules Compliance Change" event to EventBridge.
 */
import { randomBytes } from 'node:crypto';
import { authorizeService, runAs } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type RequestContext, type SandboxContext, type ServiceModule } from '../../core/types';
import { isObj, num, type Obj, stateOf, str, strs } from '../state';
import {
  changeTriggered,
  checkEvaluations,
  checkedFrequency,
  configRoleArn,
  configurationItem,
  customFrequency,
  frequencySeconds,
  type Invocation,
  invokeRuleFunction,
  invokingEvent,
  type SourceDetail,
  sourceDetailsOf,
} from './custom';
import { type ComplianceType, EVALUATORS, type Evaluator, RetryLater, type Verdict } from './evaluators';
import {
  type ConfigurationItem,
  deleteConfigurationRecorder,
  deleteDeliveryChannel,
  describeConfigurationRecorderStatus,
  describeConfigurationRecorders,
  describeDeliveryChannels,
  discovered,
  ensureRecorder,
  onRecorded,
  putConfigurationRecorder,
  putDeliveryChannel,
  recordedItem,
  recorderRole,
  startConfigurationRecorder,
  stopConfigurationRecorder,
} from './recorder';
import { batchGetResourceConfig, getDiscoveredResourceCounts, listDiscoveredResources } from './resources';
import { configMayNotAssume, ruleSession } from './roles';
import { evaluatorOfType, inScope, type RuleScope, ScopeLookups } from './scope';

export interface ConfigServiceOptions {
  /** Emulated seconds between a configuration change and its evaluation (default 3). */
  evaluationDelaySeconds?: number;
  /** Emulated seconds an on-demand evaluation stays "in progress" at least (default 2). */
  evaluationSeconds?: number;
  /** Minimum emulated seconds between StartConfigRulesEvaluation calls for one rule (AWS: once per minute). */
  startEvaluationIntervalSeconds?: number;
  /**
   * Emulated seconds a rule-wide evaluation (StartConfigRulesEvaluation, rule creation) takes before it
   * records its results (default 0; the benchmark's profile uses 60, like a slow Config in AWS).
   */
  ruleEvaluationSeconds?: number;
  /**
   * Run periodic rules every MaximumExecutionFrequency (default true). A benchmark at time scale 0.001 turns
   * them off with its other periodic fallbacks: a day is 86 real seconds there, a time-scale artifact.
   */
  periodicRuns?: boolean;
  /**
   * Give each account-region the configuration recorder an account with Config enabled has (default true;
   * recorder.ts): without it, nothing is recorded until PutConfigurationRecorder, PutDeliveryChannel and
   * StartConfigurationRecorder, so rules exist but evaluate nothing, as in an account without a recorder.
   */
  defaultRecorder?: boolean;
}

interface Rule {
  ConfigRuleName: string;
  ConfigRuleArn: string;
  ConfigRuleId: string;
  Description?: string;
  Scope?: RuleScope;
  Source: { Owner: string; SourceIdentifier: string; SourceDetails?: SourceDetail[] };
  InputParameters?: string;
  MaximumExecutionFrequency?: string;
  ConfigRuleState: 'ACTIVE' | 'EVALUATING' | 'DELETING';
  EvaluationModes: Array<{ Mode: string }>;
  params: Record<string, string>;
  firstActivated: Date;
  lastInvoked?: Date;
  lastEvaluated?: Date;
  lastStartCall?: Date;
  /** The last failed invocation of a custom rule's function, and why (DescribeConfigRuleEvaluationStatus). */
  lastFailedInvocation?: Date;
  lastError?: { code: string; message: string };
  /** Full evaluations (creation, StartConfigRulesEvaluation) in progress. */
  running: number;
}

interface Result {
  ruleName: string;
  resourceType: string;
  resourceId: string;
  complianceType: ComplianceType;
  annotation?: string;
  orderingTimestamp: Date;
  resultRecordedTime: Date;
  configRuleInvokedTime: Date;
}

interface ConfigState {
  rules: Map<string, Rule>;
  /** rule name → `${type}|${id}` → latest result */
  results: Map<string, Map<string, Result>>;
  /** `${rule}|${type}|${id}` pending change-triggered evaluations → latest change time. */
  pending: Map<string, Date>;
  /** ResultTokens of custom rule invocations (PutEvaluations). */
  tokens: Map<string, Invocation>;
  unsubscribe?: () => void;
}

const EVALUATION_MODE = 'DETECTIVE';
const COMPLIANCE_TYPES = ['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE', 'INSUFFICIENT_DATA'];

function state(sandbox: SandboxContext): ConfigState {
  return stateOf(sandbox, 'config', () => ({
    rules: new Map(),
    results: new Map(),
    pending: new Map(),
    tokens: new Map(),
  }));
}

function ruleId(): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `config-rule-${[...randomBytes(6)].map((b) => chars[b % chars.length]).join('')}`;
}

function noSuchRule(name: string): AwsError {
  return new AwsError(
    'NoSuchConfigRuleException',
    `The ConfigRule '${name}' provided in the request is invalid. Please check the configRule name.`,
  );
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', message);
}

/** A rule's InputParameters (a JSON object of strings) with the evaluator's required ones present. */
function ruleParameters(
  inputParameters: string | undefined,
  evaluator: Evaluator | undefined,
): Record<string, string> {
  let params: Record<string, string> = {};
  if (inputParameters !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(inputParameters);
    } catch {
      throw invalid('Invalid json string for input parameters.');
    }
    if (!isObj(parsed)) throw invalid('Invalid json string for input parameters.');
    params = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, str(v) ?? JSON.stringify(v)]));
  }
  for (const p of evaluator?.requiredParameters ?? []) {
    if (!params[p] || params[p].trim() === '')
      throw invalid(`The required parameter [${p}] is not present in the inputParameters`);
  }
  return params;
}

/** A rule's Scope with only the members the caller set. */
function ruleScope(scope: Obj): Rule['Scope'] {
  return {
    ...(strs(scope.ComplianceResourceTypes).length > 0
      ? { ComplianceResourceTypes: strs(scope.ComplianceResourceTypes) }
      : {}),
    ...(str(scope.ComplianceResourceId) ? { ComplianceResourceId: str(scope.ComplianceResourceId) } : {}),
    ...(str(scope.TagKey) ? { TagKey: str(scope.TagKey) } : {}),
    ...(str(scope.TagValue) ? { TagValue: str(scope.TagValue) } : {}),
  };
}

const iso = (d: Date): string => d.toISOString();

/** The event detail AWS sends for a compliance change (source aws.config). */
function complianceChangeDetail(
  sandbox: SandboxContext,
  rule: Rule,
  next: Result,
  previous: Result | undefined,
): Obj {
  const evaluation = (r: Result): Obj => {
    const out: Obj = {
      evaluationResultIdentifier: {
        evaluationResultQualifier: {
          configRuleName: r.ruleName,
          resourceType: r.resourceType,
          resourceId: r.resourceId,
          evaluationMode: EVALUATION_MODE,
        },
        orderingTimestamp: iso(r.orderingTimestamp),
      },
      complianceType: r.complianceType,
      resultRecordedTime: iso(r.resultRecordedTime),
      configRuleInvokedTime: iso(r.configRuleInvokedTime),
    };
    if (r.annotation !== undefined) out.annotation = r.annotation;
    return out;
  };
  const detail: Obj = {
    resourceId: next.resourceId,
    awsRegion: sandbox.region,
    awsAccountId: sandbox.accountId,
    configRuleName: rule.ConfigRuleName,
    recordVersion: '1.0',
    configRuleARN: rule.ConfigRuleArn,
    messageType: 'ComplianceChangeNotification',
    newEvaluationResult: evaluation(next),
    notificationCreationTime: iso(sandbox.clock.now()),
    resourceType: next.resourceType,
  };
  if (previous) detail.oldEvaluationResult = evaluation(previous);
  return detail;
}

class ConfigEngine {
  constructor(
    private readonly sandbox: SandboxContext,
    private readonly options: Required<ConfigServiceOptions>,
    private readonly signal: AbortSignal,
  ) {}

  get st(): ConfigState {
    return state(this.sandbox);
  }

  subscribe(): void {
    if (this.st.unsubscribe) return;
    this.st.unsubscribe = onRecorded(this.sandbox, (item) => {
      void this.onRecorded(item).catch((err: unknown) =>
        this.sandbox.log(`config: change handling failed: ${String(err)}`),
      );
    });
  }

  /** Records a verdict; emits the compliance-change event when the compliance type changed. */
  async record(
    rule: Rule,
    resourceType: string,
    resourceId: string,
    compliance: ComplianceType,
    annotation: string | undefined,
    ordering: Date,
    invoked: Date,
  ): Promise<void> {
    if (!this.st.rules.has(rule.ConfigRuleName)) return; // deleted meanwhile
    let byRule = this.st.results.get(rule.ConfigRuleName);
    if (!byRule) {
      byRule = new Map();
      this.st.results.set(rule.ConfigRuleName, byRule);
    }
    const key = `${resourceType}|${resourceId}`;
    const previous = byRule.get(key);
    if (compliance === 'NOT_APPLICABLE' && !previous) return; // never evaluated, nothing to retract
    const now = this.sandbox.clock.now();
    const next: Result = {
      ruleName: rule.ConfigRuleName,
      resourceType,
      resourceId,
      complianceType: compliance,
      annotation,
      orderingTimestamp: ordering,
      resultRecordedTime: now,
      configRuleInvokedTime: invoked,
    };
    byRule.set(key, next);
    rule.lastEvaluated = now;
    if (previous?.complianceType === compliance) return;
    this.sandbox.log(
      `config: ${rule.ConfigRuleName} ${resourceType} ${resourceId} ${previous?.complianceType ?? '(new)'} → ${compliance}`,
    );
    await this.sandbox.putEvent({
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      resources: [],
      detail: complianceChangeDetail(this.sandbox, rule, next, previous),
    });
  }

  /** Evaluates one resource against one rule, retrying while it cannot be evaluated yet. */
  async evaluateResource(
    rule: Rule,
    resourceType: string,
    resourceId: string,
    ordering: Date,
  ): Promise<void> {
    if (rule.Source.Owner === 'CUSTOM_LAMBDA') {
      const item = await this.itemOf(resourceType, resourceId);
      const present = item.configurationItemStatus === 'OK';
      // A resource the recorder never recorded (not recorded type, refused read, no recorder) is not evaluated.
      if (!present && !this.st.results.get(rule.ConfigRuleName)?.has(`${resourceType}|${resourceId}`)) return;
      const inScopeNow = await this.covers(rule, undefined, resourceType, resourceId);
      await this.invokeCustom(rule, item, present && !inScopeNow);
      return;
    }
    const evaluator = EVALUATORS[rule.Source.SourceIdentifier];
    if (evaluator) await this.evaluateWithRetry(rule, evaluator, resourceType, resourceId, ordering);
  }

  private async evaluateWithRetry(
    rule: Rule,
    evaluator: Evaluator,
    resourceType: string,
    resourceId: string,
    ordering: Date,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.signal.aborted) return;
      const invoked = this.sandbox.clock.now();
      rule.lastInvoked = invoked;
      try {
        const verdict = await this.verdictOf(rule, evaluator, resourceId);
        if (!verdict) {
          await this.record(rule, resourceType, resourceId, 'NOT_APPLICABLE', undefined, ordering, invoked);
        } else {
          await this.record(
            rule,
            resourceType,
            resourceId,
            verdict.compliance,
            verdict.annotation,
            ordering,
            invoked,
          );
        }
        return;
      } catch (err) {
        if (err instanceof RetryLater && attempt < 20) {
          await this.sandbox.clock.sleep(10, this.signal);
          continue;
        }
        this.sandbox.log(
          `config: ${rule.ConfigRuleName} could not evaluate ${resourceType} ${resourceId}: ${err instanceof Error ? err.message : String(err)}`,
        );
        return;
      }
    }
  }

  /**
   * A managed rule's verdict on one resource. A rule that acts with a role its parameters name assumes it as
   * Config (roles.ts) and makes its calls as that session, so IAM enforces the role's permissions: a role
   * that does not trust Config, or is refused a call, gives the rule's result for a failed evaluation
   * (NON_COMPLIANT with the annotation AWS writes), the refused action in the sandbox log.
   */
  private async verdictOf(
    rule: Rule,
    evaluator: Evaluator,
    resourceId: string,
  ): Promise<Verdict | undefined> {
    const roleArn = evaluator.roleParameter ? rule.params[evaluator.roleParameter] : undefined;
    if (!roleArn) return evaluator.evaluate(resourceId, rule.params, this.sandbox, this.signal);
    const failed = { compliance: 'NON_COMPLIANT' as const, annotation: evaluator.deniedAnnotation };
    const refused = await configMayNotAssume(this.sandbox, roleArn, rule.ConfigRuleArn);
    if (refused) {
      this.sandbox.log(`config: ${rule.ConfigRuleName} cannot assume ${roleArn}: ${refused}`);
      return failed;
    }
    try {
      return await runAs(ruleSession(roleArn), () =>
        evaluator.evaluate(resourceId, rule.params, this.sandbox, this.signal),
      );
    } catch (err) {
      if (!(err instanceof AwsError && /AccessDenied|UnauthorizedOperation/.test(err.code))) throw err;
      this.sandbox.log(`config: ${rule.ConfigRuleName} as ${roleArn}: ${err.message}`);
      return failed;
    }
  }

  /**
   * Invokes a custom rule's function as Config (custom.ts) with a configuration item, or a periodic run's
   * ScheduledNotification when `item` is undefined; a failed invocation shows in the evaluation status.
   */
  private async invokeCustom(rule: Rule, item: Obj | undefined, leftScope: boolean): Promise<void> {
    rule.lastInvoked = this.sandbox.clock.now();
    const event = {
      invoking: invokingEvent(this.sandbox, item),
      leftScope,
      executionRoleArn: configRoleArn(this.sandbox, recorderRole(this.sandbox)),
    };
    const error = await invokeRuleFunction(this.sandbox, rule, event, this.st.tokens);
    if (!error) return;
    rule.lastFailedInvocation = this.sandbox.clock.now();
    rule.lastError = { code: error.name, message: error.message };
  }

  /** The resource's configuration item as Config delivers it to a custom rule (with its tags). */
  private async itemOf(resourceType: string, resourceId: string): Promise<Obj> {
    const recorded = await recordedItem(this.sandbox, resourceType, resourceId);
    return configurationItem(this.sandbox, resourceType, resourceId, recorded?.tags);
  }

  /** The ids of the resources of a type Config knows (an evaluator's listing, else what it discovered). */
  private async idsOfType(resourceType: string): Promise<string[]> {
    const lister = evaluatorOfType(resourceType);
    if (lister) return lister.list(this.sandbox);
    return discovered(this.sandbox, resourceType).map((d) => d.resourceId);
  }

  /**
   * A custom rule's rule-wide evaluation (creation, StartConfigRulesEvaluation, a periodic run): one
   * invocation per resource in scope for a change-triggered rule, one ScheduledNotification for a periodic one.
   */
  private async evaluateCustomRule(rule: Rule, periodicOnly: boolean): Promise<void> {
    rule.running++;
    rule.ConfigRuleState = 'EVALUATING';
    try {
      if (changeTriggered(rule) && !periodicOnly) {
        const scoped = rule.Scope?.ComplianceResourceTypes ?? [];
        const types =
          scoped.length > 0 ? scoped : [...new Set(Object.values(EVALUATORS).map((e) => e.resourceType))];
        const lookups = new ScopeLookups(this.sandbox);
        for (const type of types) {
          for (const id of await this.idsOfType(type)) {
            if (this.changeUnseen(rule, type, id)) continue;
            if (await this.covers(rule, undefined, type, id, lookups))
              await this.invokeCustom(rule, await this.itemOf(type, id), false);
          }
        }
      }
      if (customFrequency(rule)) await this.invokeCustom(rule, undefined, false);
    } finally {
      rule.running--;
      if (rule.running === 0 && rule.ConfigRuleState === 'EVALUATING') rule.ConfigRuleState = 'ACTIVE';
    }
  }

  /**
   * Runs a periodic rule on the sandbox clock every MaximumExecutionFrequency (AWS's default: 24 hours)
   * while it is the stored rule of its name: a custom rule with a ScheduledNotification source, or a
   * managed rule whose trigger is periodic.
   */
  startPeriodic(rule: Rule): void {
    const custom = rule.Source.Owner === 'CUSTOM_LAMBDA';
    const periodic = custom
      ? customFrequency(rule)
      : EVALUATORS[rule.Source.SourceIdentifier]?.periodic
        ? (rule.MaximumExecutionFrequency ?? 'TwentyFour_Hours')
        : undefined;
    if (!periodic || !this.options.periodicRuns) return;
    const seconds = frequencySeconds(periodic);
    void (async () => {
      for (;;) {
        await this.sandbox.clock.sleep(seconds, this.signal);
        if (this.st.rules.get(rule.ConfigRuleName) !== rule) return; // deleted or replaced
        if (rule.running > 0) continue;
        if (custom) await this.evaluateCustomRule(rule, true);
        else await this.evaluateRule(rule);
      }
    })().catch((err: unknown) => {
      if (!this.signal.aborted)
        this.sandbox.log(`config: periodic run of ${rule.ConfigRuleName} failed: ${String(err)}`);
    });
  }

  /** Evaluates every resource in the rule's scope (creation, on demand); resources gone → NOT_APPLICABLE. */
  async evaluateRule(rule: Rule): Promise<void> {
    if (rule.Source.Owner === 'CUSTOM_LAMBDA') return this.evaluateCustomRule(rule, false);
    const evaluator = EVALUATORS[rule.Source.SourceIdentifier];
    if (!evaluator) return;
    rule.running++;
    rule.ConfigRuleState = 'EVALUATING';
    try {
      const started = this.sandbox.clock.now();
      if (this.options.ruleEvaluationSeconds > 0)
        await this.sandbox.clock.sleep(this.options.ruleEvaluationSeconds, this.signal);
      const ids: string[] = [];
      const lookups = new ScopeLookups(this.sandbox);
      for (const id of await evaluator.list(this.sandbox)) {
        if (await this.covers(rule, evaluator, evaluator.resourceType, id, lookups)) ids.push(id);
      }
      await Promise.all([
        this.sandbox.clock.sleep(this.options.evaluationSeconds, this.signal),
        ...ids
          .filter((id) => !this.changeUnseen(rule, evaluator.resourceType, id))
          .map((id) => this.evaluateResource(rule, evaluator.resourceType, id, started)),
      ]);
      const known = this.st.results.get(rule.ConfigRuleName);
      for (const r of [...(known?.values() ?? [])]) {
        if (!ids.includes(r.resourceId) && r.complianceType !== 'NOT_APPLICABLE') {
          await this.record(
            rule,
            r.resourceType,
            r.resourceId,
            'NOT_APPLICABLE',
            undefined,
            started,
            started,
          );
        }
      }
    } finally {
      rule.running--;
      if (rule.running === 0 && rule.ConfigRuleState === 'EVALUATING') rule.ConfigRuleState = 'ACTIVE';
    }
  }

  /**
   * Whether a change of the resource still waits for its own evaluation (`evaluationDelaySeconds` after
   * the change). A rule-wide evaluation (creation, StartConfigRulesEvaluation, a periodic run) leaves such
   * a resource to that evaluation and keeps its last result: no evaluation shows a change earlier than the
   * change's own. Without this, a rule-wide evaluation ending right after a change recorded its new
   * compliance first, so the change's own evaluation changed nothing and sent no "Config Rules Compliance
   * Change" event — a fix reported before AWS could know of it (issue #9: 14 % of a burst's verifications
   * then waited for the reconciler).
   */
  private changeUnseen(rule: Rule, resourceType: string, resourceId: string): boolean {
    return this.st.pending.has(`${rule.ConfigRuleName}|${resourceType}|${resourceId}`);
  }

  private schedule(rule: Rule, resourceType: string, resourceId: string, at: Date): void {
    const key = `${rule.ConfigRuleName}|${resourceType}|${resourceId}`;
    const already = this.st.pending.has(key);
    this.st.pending.set(key, at);
    if (already) return; // coalesced into the evaluation already scheduled
    void (async () => {
      await this.sandbox.clock.sleep(this.options.evaluationDelaySeconds, this.signal);
      const ordering = this.st.pending.get(key) ?? at;
      this.st.pending.delete(key);
      const current = this.st.rules.get(rule.ConfigRuleName);
      if (current) await this.evaluateResource(current, resourceType, resourceId, ordering);
    })().catch((err: unknown) => this.sandbox.log(`config: evaluation failed: ${String(err)}`));
  }

  /** Whether the rule covers the resource (scope.ts); `lookups` shares the tag and stack reads of one change. */
  covers(
    rule: Rule,
    evaluator: Evaluator | undefined,
    resourceType: string,
    resourceId: string,
    lookups = new ScopeLookups(this.sandbox),
  ): Promise<boolean> {
    return inScope(rule.Scope, evaluator, resourceType, resourceId, lookups);
  }

  /**
   * Whether a change of the resource triggers the rule: a managed rule covering it; a change-triggered
   * custom rule covering it, or that has a result for it (it left the scope: eventLeftScope).
   */
  private async triggers(
    rule: Rule,
    resourceType: string,
    resourceId: string,
    lookups: ScopeLookups,
  ): Promise<boolean> {
    if (rule.Source.Owner === 'CUSTOM_LAMBDA') {
      if (!changeTriggered(rule)) return false;
      if (this.st.results.get(rule.ConfigRuleName)?.has(`${resourceType}|${resourceId}`)) return true;
      return this.covers(rule, undefined, resourceType, resourceId, lookups);
    }
    const evaluator = EVALUATORS[rule.Source.SourceIdentifier];
    return evaluator !== undefined && this.covers(rule, evaluator, resourceType, resourceId, lookups);
  }

  /**
   * A configuration change the recorder recorded (recorder.ts: an item that differs from the last one):
   * the change-triggered rules it concerns evaluate it. A change the recorder did not record (stopped, a
   * type it does not record, a refused read) triggers nothing, as in AWS; nor does a change that left the
   * item as it was (a drift detection of a stack, which records no new stack configuration).
   */
  async onRecorded(item: ConfigurationItem): Promise<void> {
    const rules = [...this.st.rules.values()];
    if (rules.length === 0) return;
    const lookups = new ScopeLookups(this.sandbox);
    for (const rule of rules) {
      if (await this.triggers(rule, item.resourceType, item.resourceId, lookups))
        this.schedule(rule, item.resourceType, item.resourceId, item.captureTime);
    }
  }
}

function engineFor(
  sandbox: SandboxContext,
  options: Required<ConfigServiceOptions>,
  signal: AbortSignal,
): ConfigEngine {
  return stateOf(sandbox, 'config-engine', () => new ConfigEngine(sandbox, options, signal));
}

function resultOut(r: Result): Obj {
  const out: Obj = {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: {
        ConfigRuleName: r.ruleName,
        ResourceType: r.resourceType,
        ResourceId: r.resourceId,
        EvaluationMode: EVALUATION_MODE,
      },
      OrderingTimestamp: r.orderingTimestamp,
    },
    ComplianceType: r.complianceType,
    ResultRecordedTime: r.resultRecordedTime,
    ConfigRuleInvokedTime: r.configRuleInvokedTime,
  };
  if (r.annotation !== undefined) out.Annotation = r.annotation;
  return out;
}

function ruleOut(r: Rule): Obj {
  const out: Obj = {
    ConfigRuleName: r.ConfigRuleName,
    ConfigRuleArn: r.ConfigRuleArn,
    ConfigRuleId: r.ConfigRuleId,
    Source: {
      ...r.Source,
      ...(r.Source.SourceDetails ? { SourceDetails: r.Source.SourceDetails.map((d) => ({ ...d })) } : {}),
    },
    ConfigRuleState: r.ConfigRuleState,
    EvaluationModes: r.EvaluationModes,
  };
  if (r.Description !== undefined) out.Description = r.Description;
  if (r.Scope) out.Scope = { ...r.Scope };
  if (r.InputParameters !== undefined) out.InputParameters = r.InputParameters;
  if (r.MaximumExecutionFrequency !== undefined) out.MaximumExecutionFrequency = r.MaximumExecutionFrequency;
  return out;
}

function complianceFilter(input: Obj): string[] | undefined {
  const types = strs(input.ComplianceTypes);
  for (const t of types) {
    if (!COMPLIANCE_TYPES.includes(t)) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '[${t}]' at 'complianceTypes' failed to satisfy constraint: Member must satisfy enum value set: [${COMPLIANCE_TYPES.join(', ')}]`,
      );
    }
  }
  return types.length > 0 ? types : undefined;
}

function pageOf<T>(items: T[], input: Obj, limit: number): { page: T[]; next?: string } {
  const token = str(input.NextToken);
  const start = token ? Number.parseInt(Buffer.from(token, 'base64').toString('utf8'), 10) : 0;
  if (Number.isNaN(start) || start < 0)
    throw new AwsError(
      'InvalidNextTokenException',
      'The specified next token is invalid. Specify the nextToken string that was returned in the previous response to get the next page of results.',
    );
  const page = items.slice(start, start + limit);
  return start + limit < items.length
    ? { page, next: Buffer.from(String(start + limit)).toString('base64') }
    : { page };
}

function withToken(out: Obj, next: string | undefined): Obj {
  if (next) out.NextToken = next;
  return out;
}

function sortResults(list: Result[]): Result[] {
  return list.sort(
    (a, b) =>
      a.ruleName.localeCompare(b.ruleName) ||
      a.resourceType.localeCompare(b.resourceType) ||
      a.resourceId.localeCompare(b.resourceId),
  );
}

/** The rule a request names (NoSuchConfigRuleException when there is none). */
function ruleOf(ctx: RequestContext, name: unknown): Rule {
  const n = str(name) ?? '';
  const r = state(ctx.sandbox).rules.get(n);
  if (!r) throw noSuchRule(n);
  return r;
}

/** The rules a request names, or every rule when it names none. */
function rulesNamed(ctx: RequestContext, input: Obj): Rule[] {
  const names = strs(input.ConfigRuleNames);
  return names.length > 0 ? names.map((n) => ruleOf(ctx, n)) : [...state(ctx.sandbox).rules.values()];
}

/** PutConfigRule's ConfigRule as a Rule (keeping an existing rule's id, ARN and first activation). */
function ruleFromRequest(input: Obj, ctx: RequestContext): Rule {
  const cr = isObj(input.ConfigRule) ? input.ConfigRule : undefined;
  if (!cr)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'configRule' failed to satisfy constraint: Member must not be null",
    );
  const name = str(cr.ConfigRuleName);
  if (!name || name.length > 128 || !/^\S+$/.test(name))
    throw invalid(`The ConfigRuleName '${name ?? ''}' is not valid.`);
  const source = isObj(cr.Source) ? cr.Source : {};
  const owner = str(source.Owner);
  const identifier = str(source.SourceIdentifier) ?? '';
  if (owner !== 'AWS' && owner !== 'CUSTOM_LAMBDA' && owner !== 'CUSTOM_POLICY')
    throw invalid(`The Owner '${owner ?? ''}' is not valid.`);
  const evaluator = owner === 'AWS' ? EVALUATORS[identifier] : undefined;
  if (owner === 'AWS' && !evaluator) {
    throw invalid(
      `The sourceIdentifier ${identifier} is invalid. Please refer to the documentation for a list of valid sourceIdentifiers that can be used when AWS is the Owner.`,
    );
  }
  const frequency = checkedFrequency(str(cr.MaximumExecutionFrequency));
  if (frequency && evaluator && !evaluator.periodic)
    throw invalid(
      'A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule.',
    );
  const inputParameters = str(cr.InputParameters);
  const params = ruleParameters(inputParameters, evaluator);
  const existing = state(ctx.sandbox).rules.get(name);
  if (existing?.ConfigRuleState === 'DELETING')
    throw new AwsError('ResourceInUseException', `The rule ${name} is currently being deleted.`);
  const scope = isObj(cr.Scope) ? cr.Scope : undefined;
  const details = sourceDetailsOf(source);
  const id = existing?.ConfigRuleId ?? ruleId();
  return {
    ConfigRuleName: name,
    ConfigRuleId: id,
    ConfigRuleArn:
      existing?.ConfigRuleArn ?? `arn:aws:config:${ctx.region}:${ctx.accountId}:config-rule/${id}`,
    Description: str(cr.Description),
    Scope: scope ? ruleScope(scope) : undefined,
    Source: { Owner: owner, SourceIdentifier: identifier, ...(details ? { SourceDetails: details } : {}) },
    InputParameters: inputParameters,
    MaximumExecutionFrequency: frequency,
    ConfigRuleState: 'ACTIVE',
    EvaluationModes: [{ Mode: EVALUATION_MODE }],
    params,
    firstActivated: existing?.firstActivated ?? ctx.sandbox.clock.now(),
    running: 0,
  };
}

/**
 * A custom Lambda rule's function is invoked by Config as `config.amazonaws.com`: its function policy must
 * admit Config (with the rule's account and ARN as `aws:SourceAccount` / `aws:SourceArn`), or PutConfigRule
 * is refused with InsufficientPermissionsException, as in AWS. Nothing is stored then.
 */
async function checkCustomFunction(r: Rule, ctx: RequestContext): Promise<void> {
  if (r.Source.Owner !== 'CUSTOM_LAMBDA') return;
  const fn = r.Source.SourceIdentifier;
  const context = { 'aws:SourceAccount': ctx.accountId, 'aws:SourceArn': r.ConfigRuleArn };
  try {
    await authorizeService(
      ctx.sandbox,
      'config.amazonaws.com',
      'lambda:InvokeFunction',
      fn,
      ctx.region,
      context,
    );
  } catch (err) {
    if (!(err instanceof AwsError)) throw err;
    ctx.sandbox.log(`config: ${r.ConfigRuleName} cannot invoke ${fn}: ${err.message}`);
    throw new AwsError(
      'InsufficientPermissionsException',
      `The AWS Lambda function ${fn} cannot be invoked. Check the specified function ARN, and check the function's permissions.`,
    );
  }
}

/** Stores the rule and evaluates every resource in its scope (as Config does on PutConfigRule). */
async function putConfigRule(input: Obj, ctx: RequestContext, engine: ConfigEngine): Promise<Obj> {
  const r = ruleFromRequest(input, ctx);
  await checkCustomFunction(r, ctx);
  state(ctx.sandbox).rules.set(r.ConfigRuleName, r);
  engine.subscribe();
  engine.startPeriodic(r);
  void engine
    .evaluateRule(r)
    .catch((err: unknown) =>
      ctx.sandbox.log(`config: initial evaluation of ${r.ConfigRuleName} failed: ${String(err)}`),
    );
  return {};
}

/**
 * PutEvaluations from a custom rule's function: the evaluations of the invocation its ResultToken names
 * become the rule's results (compliance-change events as for managed rules); see custom.ts for the checks.
 */
async function putEvaluations(input: Obj, ctx: RequestContext, engine: ConfigEngine): Promise<Obj> {
  const st = state(ctx.sandbox);
  const customRule = (name: string) => {
    const r = st.rules.get(name);
    return r?.Source.Owner === 'CUSTOM_LAMBDA' ? r : undefined;
  };
  const { invocation, accepted } = checkEvaluations(input, ctx, st.tokens, customRule);
  const rule = invocation ? customRule(invocation.ruleName) : undefined;
  if (!invocation || !rule) return { FailedEvaluations: [] };
  for (const a of accepted)
    await engine.record(
      rule,
      a.resourceType,
      a.resourceId,
      a.compliance,
      a.annotation,
      a.ordering,
      invocation.invoked,
    );
  return { FailedEvaluations: [] };
}

function evaluationStatus(r: Rule): Obj {
  const out: Obj = {
    ConfigRuleName: r.ConfigRuleName,
    ConfigRuleArn: r.ConfigRuleArn,
    ConfigRuleId: r.ConfigRuleId,
    FirstActivatedTime: r.firstActivated,
    FirstEvaluationStarted: r.lastInvoked !== undefined,
  };
  if (r.lastInvoked) out.LastSuccessfulInvocationTime = r.lastInvoked;
  if (r.lastEvaluated) out.LastSuccessfulEvaluationTime = r.lastEvaluated;
  if (r.lastFailedInvocation) out.LastFailedInvocationTime = r.lastFailedInvocation;
  if (r.lastError) {
    out.LastErrorCode = r.lastError.code;
    out.LastErrorMessage = r.lastError.message;
  }
  return out;
}

/** StartConfigRulesEvaluation's limits: a rule being deleted, already evaluating, or started under a minute ago. */
function checkStartable(r: Rule, now: Date, intervalSeconds: number): void {
  if (r.ConfigRuleState === 'DELETING')
    throw new AwsError('ResourceInUseException', `The rule ${r.ConfigRuleName} is currently being deleted.`);
  if (r.running > 0)
    throw new AwsError(
      'LimitExceededException',
      `An evaluation of ${r.ConfigRuleName} is already in progress.`,
    );
  if (r.lastStartCall && (now.getTime() - r.lastStartCall.getTime()) / 1000 < intervalSeconds) {
    throw new AwsError(
      'LimitExceededException',
      `StartConfigRulesEvaluation can be called once per minute for ${r.ConfigRuleName}.`,
    );
  }
}

function startConfigRulesEvaluation(
  input: Obj,
  ctx: RequestContext,
  engine: () => ConfigEngine,
  intervalSeconds: number,
): Obj {
  const names = strs(input.ConfigRuleNames);
  if (names.length === 0) throw invalid('ConfigRuleNames must contain at least one rule name.');
  if (names.length > 25)
    throw invalid(`You can specify up to 25 Config rules per request; the request has ${names.length}.`);
  const rules = names.map((n) => ruleOf(ctx, n));
  const now = ctx.sandbox.clock.now();
  for (const r of rules) checkStartable(r, now, intervalSeconds);
  const e = engine();
  for (const r of rules) {
    r.lastStartCall = now;
    void e
      .evaluateRule(r)
      .catch((err: unknown) =>
        ctx.sandbox.log(`config: evaluation of ${r.ConfigRuleName} failed: ${String(err)}`),
      );
  }
  return {};
}

function getComplianceDetailsByConfigRule(input: Obj, ctx: RequestContext): Obj {
  const r = ruleOf(ctx, input.ConfigRuleName);
  const types = complianceFilter(input);
  const limit = num(input.Limit) ?? 0;
  if (limit < 0 || limit > 100) throw invalid('Limit must be between 0 and 100.');
  const results = sortResults([...(state(ctx.sandbox).results.get(r.ConfigRuleName)?.values() ?? [])]).filter(
    (x) => !types || types.includes(x.complianceType),
  );
  const p = pageOf(results, input, limit === 0 ? 10 : limit);
  return withToken({ EvaluationResults: p.page.map(resultOut) }, p.next);
}

function getComplianceDetailsByResource(input: Obj, ctx: RequestContext): Obj {
  const type = str(input.ResourceType);
  const id = str(input.ResourceId);
  if (!type || !id) throw invalid('ResourceType and ResourceId are required.');
  const types = complianceFilter(input);
  const results = sortResults(
    [...state(ctx.sandbox).results.values()].flatMap((m) => {
      const r = m.get(`${type}|${id}`);
      return r ? [r] : [];
    }),
  ).filter((x) => !types || types.includes(x.complianceType));
  const p = pageOf(results, input, 100);
  return withToken({ EvaluationResults: p.page.map(resultOut) }, p.next);
}

/** A rule's compliance from its results: NON_COMPLIANT with a (capped) count, COMPLIANT, or INSUFFICIENT_DATA. */
function ruleCompliance(results: Result[]): Obj {
  const nonCompliant = results.filter((x) => x.complianceType === 'NON_COMPLIANT').length;
  if (nonCompliant > 0) {
    return {
      ComplianceType: 'NON_COMPLIANT',
      ComplianceContributorCount: {
        CappedCount: Math.min(nonCompliant, 100),
        CapExceeded: nonCompliant > 100,
      },
    };
  }
  return results.some((x) => x.complianceType === 'COMPLIANT')
    ? { ComplianceType: 'COMPLIANT' }
    : { ComplianceType: 'INSUFFICIENT_DATA' };
}

function describeComplianceByConfigRule(input: Obj, ctx: RequestContext): Obj {
  const types = complianceFilter(input);
  const st = state(ctx.sandbox);
  const out = rulesNamed(ctx, input)
    .map((r) => ({
      ConfigRuleName: r.ConfigRuleName,
      Compliance: ruleCompliance([...(st.results.get(r.ConfigRuleName)?.values() ?? [])]),
    }))
    .filter((c) => !types || types.includes(String(c.Compliance.ComplianceType)));
  const p = pageOf(out, input, 25);
  return withToken({ ComplianceByConfigRules: p.page }, p.next);
}

/** A resource's compliance over every rule's result for it. */
function resourceCompliance(rs: Result[]): Obj {
  const first = rs[0];
  const non = rs.filter((r) => r.complianceType === 'NON_COMPLIANT').length;
  const ComplianceType =
    non > 0
      ? 'NON_COMPLIANT'
      : rs.some((r) => r.complianceType === 'COMPLIANT')
        ? 'COMPLIANT'
        : 'NOT_APPLICABLE';
  const Compliance: Obj =
    non > 0
      ? { ComplianceType, ComplianceContributorCount: { CappedCount: non, CapExceeded: false } }
      : { ComplianceType };
  return { ResourceType: first?.resourceType, ResourceId: first?.resourceId, Compliance };
}

function describeComplianceByResource(input: Obj, ctx: RequestContext): Obj {
  const type = str(input.ResourceType);
  const id = str(input.ResourceId);
  const types = complianceFilter(input);
  const byResource = new Map<string, Result[]>();
  for (const m of state(ctx.sandbox).results.values()) {
    for (const r of m.values()) {
      if ((type && r.resourceType !== type) || (id && r.resourceId !== id)) continue;
      const k = `${r.resourceType}|${r.resourceId}`;
      byResource.set(k, [...(byResource.get(k) ?? []), r]);
    }
  }
  const out = [...byResource.values()]
    .map(resourceCompliance)
    .filter((c) => !types || types.includes(String((c.Compliance as Obj).ComplianceType)));
  const limit = num(input.Limit) ?? 0;
  const p = pageOf(out, input, limit === 0 ? 10 : limit);
  return withToken({ ComplianceByResources: p.page }, p.next);
}

/** Each Config module's timing, shared by its engines (changed by setConfigTiming). */
const timings = new WeakMap<ServiceModule, Required<ConfigServiceOptions>>();

/**
 * Changes the running Config's timing from now on (evaluations already scheduled keep theirs): a benchmark
 * sets its fleet up with quick evaluations, then measures with AWS's minutes.
 */
export function setConfigTiming(ctx: SandboxContext, timing: ConfigServiceOptions): void {
  const module = serviceModule(ctx, 'config');
  const opts = module && timings.get(module);
  if (!opts) throw new Error('setConfigTiming: the sandbox has no Config module');
  Object.assign(opts, Object.fromEntries(Object.entries(timing).filter(([, v]) => v !== undefined)));
}

/** Config's operations (the recorder's from recorder.ts); `engine` is the calling scope's rule engine. */
function configOperations(
  opts: Required<ConfigServiceOptions>,
  engine: (ctx: RequestContext) => ConfigEngine,
): ServiceModule['operations'] {
  return {
    PutConfigRule: (input, ctx) => putConfigRule(input, ctx, engine(ctx)),
    DescribeConfigRules: (input, ctx) => {
      const names = strs(input.ConfigRuleNames);
      const list =
        names.length > 0
          ? names.map((n) => ruleOf(ctx, n))
          : [...state(ctx.sandbox).rules.values()].sort((a, b) =>
              a.ConfigRuleName.localeCompare(b.ConfigRuleName),
            );
      const p = pageOf(list, input, 25);
      return withToken({ ConfigRules: p.page.map(ruleOut) }, p.next);
    },
    DeleteConfigRule: (input, ctx) => {
      const r = ruleOf(ctx, input.ConfigRuleName);
      const st = state(ctx.sandbox);
      st.rules.delete(r.ConfigRuleName);
      st.results.delete(r.ConfigRuleName);
      return {};
    },
    DescribeConfigRuleEvaluationStatus: (input, ctx) => ({
      ConfigRulesEvaluationStatus: rulesNamed(ctx, input).map(evaluationStatus),
    }),
    StartConfigRulesEvaluation: (input, ctx) =>
      startConfigRulesEvaluation(input, ctx, () => engine(ctx), opts.startEvaluationIntervalSeconds),
    GetComplianceDetailsByConfigRule: getComplianceDetailsByConfigRule,
    GetDiscoveredResourceCounts: getDiscoveredResourceCounts,
    GetComplianceDetailsByResource: getComplianceDetailsByResource,
    DescribeComplianceByConfigRule: describeComplianceByConfigRule,
    ListDiscoveredResources: listDiscoveredResources,
    BatchGetResourceConfig: batchGetResourceConfig,
    DescribeComplianceByResource: describeComplianceByResource,
    PutEvaluations: (input, ctx) => putEvaluations(input, ctx, engine(ctx)),
    PutConfigurationRecorder: putConfigurationRecorder,
    DescribeConfigurationRecorders: describeConfigurationRecorders,
    DescribeConfigurationRecorderStatus: describeConfigurationRecorderStatus,
    StartConfigurationRecorder: startConfigurationRecorder,
    StopConfigurationRecorder: stopConfigurationRecorder,
    DeleteConfigurationRecorder: deleteConfigurationRecorder,
    PutDeliveryChannel: putDeliveryChannel,
    DescribeDeliveryChannels: describeDeliveryChannels,
    DeleteDeliveryChannel: deleteDeliveryChannel,
  };
}

export function configService(options: ConfigServiceOptions = {}): ServiceModule {
  const opts: Required<ConfigServiceOptions> = {
    evaluationDelaySeconds: options.evaluationDelaySeconds ?? 3,
    evaluationSeconds: options.evaluationSeconds ?? 2,
    startEvaluationIntervalSeconds: options.startEvaluationIntervalSeconds ?? 60,
    ruleEvaluationSeconds: options.ruleEvaluationSeconds ?? 0,
    periodicRuns: options.periodicRuns ?? true,
    defaultRecorder: options.defaultRecorder ?? true,
  };
  // Stopping the sandbox aborts every pending evaluation (sleeps reject) and stops listening to changes.
  const lifetime = new AbortController();
  let sandboxRef: SandboxContext | undefined;
  const engine = (ctx: RequestContext) => {
    sandboxRef = ctx.sandbox;
    return engineFor(ctx.sandbox, opts, lifetime.signal);
  };
  const operations = configOperations(opts, engine);

  const module: ServiceModule = {
    serviceName: 'config',
    signingName: 'config',
    protocol: 'awsJson1_1',
    targetPrefix: 'StarlingDoveService',
    start: (ctx) => {
      sandboxRef = ctx;
    },
    stop: () => {
      lifetime.abort(new Error('sandbox stopped'));
      if (sandboxRef) {
        const st = state(sandboxRef);
        st.unsubscribe?.();
        st.unsubscribe = undefined;
        st.pending.clear();
      }
    },
    // Each account-region gets its recorder (recorder.ts) before its first Config call is handled.
    operations: Object.fromEntries(
      Object.entries(operations).map(([name, handler]) => [
        name,
        (input: Obj, ctx: RequestContext) => {
          ensureRecorder(ctx.sandbox, opts);
          return handler(input, ctx);
        },
      ]),
    ),
  };
  timings.set(module, opts);
  return module;
}
