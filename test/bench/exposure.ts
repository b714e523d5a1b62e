/**
 * Exposure window: from the drifting API call (SSH opened to 0.0.0.0/0) to the resource restored, verified
 * by a direct read (DescribeSecurityGroups), at time scale 1 with realistic latencies: CloudTrail delivers
 * 5 s after the call, the runbook takes 30 s (PROFILE), drift detection 5 s, Config evaluates a change 3
 * minutes after it. Two sets of the same drift run at once in one sandbox:
 *   - fast path: the drift is an SDK call through the endpoint, which the sandbox records in CloudTrail;
 *   - Config path: the same call made in-process, which CloudTrail does not record, so only Config's
 *     evaluation (3 min later) starts the remediation.
 * Caps are raised so neither set waits for a remediation slot (the window measured is detection + repair).
 * Set-up is quick: the fleet is deployed and evaluated COMPLIANT with Config's sandbox default (seconds),
 * then Config is switched to the 3-minute delay before the drifts (setConfigTiming), so the section takes
 * about the Config path's window plus installation (~4–5 min).
 */

import { loadavg } from 'node:os';
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { configureCloudTrail } from '../../sandbox/core/cloudtrail';
import { setConfigTiming } from '../../sandbox/services/config';
import { type E2E, startE2E } from '../e2e/support/harness';
import { percentile } from './stats';
import { deployFleet, PROFILE, pool, profileSandbox, say, writeBenchPolicy } from './support';

export interface ExposureOptions {
  /** Drifts per path (≥ 20). */
  n: number;
  cloudTrailSeconds: number;
  configDelaySeconds: number;
  timeoutMs: number;
}

export interface PathFigures {
  n: number;
  restored: number;
  p50: number;
  p95: number;
}

export interface ExposureResult {
  fastPath: PathFigures;
  configPath: PathFigures;
  /** configPath.p50 / fastPath.p50 */
  speedup: number;
  realMs: number;
  /** The machine's 1-minute load average when the drifts were made and when the last was restored. */
  load: { start: number; end: number };
}

const OPEN_SSH = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];

async function sshOpen(e: E2E, id: string): Promise<boolean> {
  const g = await e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
  return (g.SecurityGroups?.[0]?.IpPermissions ?? []).some(
    (p) => p.FromPort === 22 && (p.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0'),
  );
}

/** Drifts `ids` with `drift`, then polls each until SSH is closed: seconds from its call to the read that saw it closed. */
async function exposures(
  e: E2E,
  ids: readonly string[],
  drift: (id: string) => Promise<unknown>,
  deadline: number,
): Promise<number[]> {
  return pool(ids, ids.length, async (id) => {
    const t0 = e.sb.clock.now().getTime();
    await drift(id);
    while (Date.now() < deadline) {
      await e.sb.clock.sleep(1);
      if (!(await sshOpen(e, id))) return (e.sb.clock.now().getTime() - t0) / 1000;
    }
    return Number.NaN;
  });
}

function figures(seconds: number[]): PathFigures {
  const ok = seconds.filter((s) => Number.isFinite(s)).sort((a, b) => a - b);
  return { n: seconds.length, restored: ok.length, p50: percentile(ok, 50), p95: percentile(ok, 95) };
}

export async function runExposure(o: ExposureOptions): Promise<ExposureResult> {
  const started = performance.now();
  const policyFile = writeBenchPolicy({ perRunbook: 4 * o.n, global: 4 * o.n, blastRadius: 10 * o.n });
  const { faults } = profileSandbox(PROFILE);
  const e = await startE2E({ timeScale: 1, policyFile, faults });
  try {
    const ids = await deployFleet(e, 'bench-exposure', 2 * o.n, {
      perStack: o.n,
      waitCompliant: true,
      timeoutMs: o.timeoutMs,
    });
    // Every creation is evaluated (COMPLIANT); let any evaluation still scheduled (seconds away) pass, so no
    // drift is folded into one. From now on Config takes AWS's minutes: a change is evaluated
    // configDelaySeconds after it, and so is a rule-wide (on-demand) evaluation — the fast path's
    // verification asks for one, which must not find the Config-path drifts sooner than Config would.
    await e.sb.clock.sleep(10);
    setConfigTiming(e.sb.context, {
      evaluationDelaySeconds: o.configDelaySeconds,
      ruleEvaluationSeconds: o.configDelaySeconds,
    });
    configureCloudTrail(e.sb.context, { enabled: true, deliverySeconds: o.cloudTrailSeconds });
    say(`exposure: ${o.n} drifts through CloudTrail, ${o.n} through Config only, at time scale 1…`);
    const deadline = Date.now() + o.timeoutMs;
    const loadStart = loadavg()[0] ?? 0;
    const [fast, config] = await Promise.all([
      exposures(
        e,
        ids.slice(0, o.n),
        (id) =>
          e.c.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: OPEN_SSH })),
        deadline,
      ),
      exposures(
        e,
        ids.slice(o.n),
        (id) =>
          e.sb.context.call('ec2', 'AuthorizeSecurityGroupIngress', { GroupId: id, IpPermissions: OPEN_SSH }),
        deadline,
      ),
    ]);
    const load = { start: loadStart, end: loadavg()[0] ?? 0 };
    const fastPath = figures(fast);
    const configPath = figures(config);
    return {
      fastPath,
      configPath,
      speedup: fastPath.p50 > 0 ? configPath.p50 / fastPath.p50 : Number.NaN,
      realMs: performance.now() - started,
      load,
    };
  } finally {
    await e.stop();
  }
}
