import { readFileSync } from 'node:fs';
import { whileIdle } from './functions';
import type { Clock } from './types';
import { AwsError } from './types';

/**
 * Per-operation latency and fault injection. Rules are keyed `service:Operation`, where either side may be
 * `*` or contain `*` wildcards (`ssm:*`, `*:Describe*`, `*`); the service is the module's serviceName (ssm,
 * ec2, …). The most specific matching rule wins (fewest wildcards, then longest pattern).
 */
export interface FaultRule {
  /** Emulated seconds added before the operation runs (scaled by the clock's timeScale). */
  latencySeconds?: number;
  /** Extra uniform jitter in emulated seconds, [0, latencyJitterSeconds). */
  latencyJitterSeconds?: number;
  /** Probability (0..1) that the call fails with the service's throttling error. */
  throttleRate?: number;
  /** Probability (0..1) that the call fails with `errorCode`. */
  errorRate?: number;
  /** Error code for errorRate (default InternalFailure / 500). */
  errorCode?: string;
  errorStatus?: number;
  errorMessage?: string;
  /**
   * Probability (0..1) that an event an emulated AWS service publishes is lost on the way to EventBridge
   * (AWS delivers them best effort). Keyed `<source>:<detail-type>`, e.g.
   * `aws.ssm:EC2 Automation Execution Status-change Notification` or `aws.config:*`.
   */
  dropRate?: number;
}

export interface FaultConfig {
  /** RNG seed; the same seed gives the same fault sequence. */
  seed?: number;
  rules: Record<string, FaultRule>;
}

/** The error code each service answers when it throttles. */
const THROTTLING_CODES: Record<string, { code: string; status: number }> = {
  ssm: { code: 'ThrottlingException', status: 400 },
  ec2: { code: 'RequestLimitExceeded', status: 503 },
  s3: { code: 'SlowDown', status: 503 },
  iam: { code: 'Throttling', status: 400 },
  cloudformation: { code: 'Throttling', status: 400 },
  sns: { code: 'Throttling', status: 400 },
  sqs: { code: 'RequestThrottled', status: 400 },
  lambda: { code: 'TooManyRequestsException', status: 429 },
  dynamodb: { code: 'ThrottlingException', status: 400 },
  stepfunctions: { code: 'ThrottlingException', status: 400 },
  events: { code: 'ThrottlingException', status: 400 },
  config: { code: 'ThrottlingException', status: 400 },
  cloudcontrol: { code: 'ThrottlingException', status: 400 },
  secretsmanager: { code: 'ThrottlingException', status: 400 },
  scheduler: { code: 'ThrottlingException', status: 400 },
};

export function throttlingErrorFor(service: string): AwsError {
  const t = THROTTLING_CODES[service] ?? { code: 'ThrottlingException', status: 400 };
  return new AwsError(t.code, 'Rate exceeded', t.status);
}

/** mulberry32: small, fast, deterministic. Returns a function yielding floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

interface CompiledRule {
  key: string;
  service: RegExp;
  operation: RegExp;
  wildcards: number;
  rule: FaultRule;
}

function validateRule(key: string, rule: FaultRule): void {
  const rate = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isFinite(v) || v < 0 || v > 1)) {
      throw new Error(`fault rule ${key}: ${name} must be between 0 and 1, got ${v}`);
    }
  };
  rate('throttleRate', rule.throttleRate);
  rate('errorRate', rule.errorRate);
  rate('dropRate', rule.dropRate);
  for (const name of ['latencySeconds', 'latencyJitterSeconds'] as const) {
    const v = rule[name];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) {
      throw new Error(`fault rule ${key}: ${name} must be >= 0, got ${v}`);
    }
  }
}

export class FaultInjector {
  private rules: CompiledRule[] = [];
  private random: () => number;
  /** Counts of injected faults by `service:Operation`, for tests and the CLI. */
  readonly injected = new Map<string, number>();

  constructor(config: FaultConfig = { rules: {} }) {
    this.random = seededRandom(config.seed ?? 42);
    this.setRules(config.rules);
  }

  setRules(rules: Record<string, FaultRule>): void {
    this.rules = Object.entries(rules).map(([key, rule]) => {
      validateRule(key, rule);
      const idx = key.indexOf(':');
      const service = idx < 0 ? key : key.slice(0, idx);
      const operation = idx < 0 ? '*' : key.slice(idx + 1);
      return {
        key,
        service: globToRegExp(service || '*'),
        operation: globToRegExp(operation || '*'),
        wildcards: (key.match(/\*/g) ?? []).length + (idx < 0 ? 1 : 0),
        rule,
      };
    });
  }

  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** The most specific rule for this call, if any. */
  ruleFor(service: string, operation: string): FaultRule | undefined {
    let best: CompiledRule | undefined;
    for (const r of this.rules) {
      if (!r.service.test(service) || !r.operation.test(operation)) continue;
      if (
        !best ||
        r.wildcards < best.wildcards ||
        (r.wildcards === best.wildcards && r.key.length > best.key.length)
      ) {
        best = r;
      }
    }
    return best?.rule;
  }

  /** Whether the event `source` publishes with `detailType` is lost (a rule's dropRate); counted in `injected`. */
  drops(source: string, detailType: string): boolean {
    const rate = this.ruleFor(source, detailType)?.dropRate;
    if (!rate || this.random() >= rate) return false;
    const key = `${source}:${detailType}`;
    this.injected.set(key, (this.injected.get(key) ?? 0) + 1);
    return true;
  }

  /** Sleeps the configured latency, then throws the injected fault if the dice say so. */
  async apply(service: string, operation: string, clock: Clock): Promise<void> {
    const rule = this.ruleFor(service, operation);
    if (!rule) return;
    const latency = (rule.latencySeconds ?? 0) + (rule.latencyJitterSeconds ?? 0) * this.random();
    // The caller waits on the service: a Lambda handler lends its runner meanwhile (sandbox/core/functions.ts).
    if (latency > 0) await whileIdle(() => clock.sleep(latency));
    const key = `${service}:${operation}`;
    if (rule.throttleRate && this.random() < rule.throttleRate) {
      this.injected.set(key, (this.injected.get(key) ?? 0) + 1);
      throw throttlingErrorFor(service);
    }
    if (rule.errorRate && this.random() < rule.errorRate) {
      this.injected.set(key, (this.injected.get(key) ?? 0) + 1);
      const status = rule.errorStatus ?? (rule.errorCode ? 400 : 500);
      throw new AwsError(rule.errorCode ?? 'InternalFailure', rule.errorMessage ?? 'Injected fault', status);
    }
  }
}

/** Reads a fault config file: `{ "seed": 1, "rules": { "ssm:StartAutomationExecution": { "throttleRate": 0.3 } } }`
 *  (a bare rules object without `rules` is accepted too). */
export function loadFaultConfig(path: string): FaultConfig {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  return parseFaultConfig(raw);
}

export function parseFaultConfig(raw: unknown): FaultConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error('fault config must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const rules = (obj.rules ?? obj) as Record<string, unknown>;
  const out: Record<string, FaultRule> = {};
  for (const [key, value] of Object.entries(rules)) {
    if (key === 'seed' && !('rules' in obj)) continue;
    if (!value || typeof value !== 'object') throw new Error(`fault rule ${key} must be an object`);
    out[key] = value as FaultRule;
    validateRule(key, out[key] as FaultRule);
  }
  const seed = typeof obj.seed === 'number' ? obj.seed : undefined;
  return seed === undefined ? { rules: out } : { seed, rules: out };
}
