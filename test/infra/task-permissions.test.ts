/**
 * Every AWS call a task's code can make is allowed by that task's role. The sandbox does not enforce
 * IAM, so a missing grant would only show up in a real account: this test reads each handler's import
 * graph (tasks/ only), collects the SDK commands it constructs, maps them to IAM actions, and checks the
 * synthesized role policies. (Least privilege the other way — nothing more than needed — is asserted
 * per resource in stack.test.ts.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_TASKS, TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { synth } from './synth';

const { json } = synth();
type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
const resources = json.Resources as Record<string, Resource>;

/** IAM prefix per SDK package. Cloud Control's API actions use the cloudformation: prefix. */
const PREFIX: Record<string, string> = {
  '@aws-sdk/client-cloudformation': 'cloudformation',
  '@aws-sdk/client-cloudcontrol': 'cloudformation',
  '@aws-sdk/client-config-service': 'config',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
};
/** lib-dynamodb's document commands and the DynamoDB actions they call. */
const DOCUMENT_ACTIONS: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
};

/** SQS authorizes its batch APIs with the single-message action. */
const SAME_AS: Record<string, string> = {
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility',
};

/** Relative imports of a file, resolved to .ts files under tasks/. */
function localImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
    const base = resolve(dirname(file), m[1] ?? '');
    const candidate = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p));
    if (candidate?.includes(`${join(process.cwd(), 'tasks')}/`)) out.push(candidate);
  }
  return out;
}

/** IAM actions for the SDK commands constructed anywhere in the handler's import graph. */
function actionsUsedBy(task: string): Set<string> {
  const seen = new Set<string>();
  const actions = new Set<string>();
  const queue = [join(process.cwd(), 'tasks', task, 'handler.ts')];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const commandSource = new Map<string, string>();
    for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g)) {
      for (const name of (m[1] ?? '').split(',').map((x) => x.replace(/^\s*type\s+/, '').trim())) {
        if (name.endsWith('Command')) commandSource.set(name, m[2] ?? '');
      }
    }
    for (const m of text.matchAll(/new\s+([A-Za-z]+)Command\s*\(/g)) {
      const op = m[1] ?? '';
      const pkg = commandSource.get(`${op}Command`);
      const prefix = pkg ? PREFIX[pkg] : undefined;
      if (!prefix) continue;
      const action = `${prefix}:${pkg === '@aws-sdk/lib-dynamodb' ? (DOCUMENT_ACTIONS[op] ?? op) : op}`;
      actions.add(SAME_AS[action] ?? action);
    }
    queue.push(...localImports(file, text));
  }
  return actions;
}

/** Actions the function's role policies allow (statements with Effect Allow). */
function actionsAllowedFor(task: string): Set<string> {
  const fn = Object.values(resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_METADATA_KEY] === task,
  );
  const roleRef = (fn?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.[
    'Fn::GetAtt'
  ]?.[0];
  if (!roleRef) throw new Error(`no function/role for task ${task}`);
  const allowed = new Set<string>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties?.Roles as Array<{ Ref?: string }> | undefined) ?? [];
    if (!roles.some((x) => x.Ref === roleRef)) continue;
    const doc = r.Properties?.PolicyDocument as {
      Statement: Array<{ Effect: string; Action: string | string[] }>;
    };
    for (const st of doc.Statement) {
      if (st.Effect !== 'Allow') continue;
      for (const a of Array.isArray(st.Action) ? st.Action : [st.Action]) allowed.add(a);
    }
  }
  return allowed;
}

describe('task roles allow every call the task code makes', () => {
  it('finds SDK calls at all (the scan is not vacuous)', () => {
    expect(actionsUsedBy('intake')).toEqual(
      new Set(
        ['states:StartExecution', 'states:DescribeExecution', 'dynamodb:PutItem', 'dynamodb:GetItem'].concat([
          ...actionsUsedBy('intake'),
        ]),
      ),
    );
    expect(actionsUsedBy('intake').has('states:StartExecution')).toBe(true);
    expect(actionsUsedBy('start-runbook').has('ssm:StartAutomationExecution')).toBe(true);
  });

  for (const task of ALL_TASKS) {
    it(task, () => {
      const allowed = actionsAllowedFor(task);
      const missing = [...actionsUsedBy(task)].filter(
        (a) => !allowed.has(a) && !allowed.has(`${a.split(':')[0]}:*`),
      );
      expect(missing, `${task} calls these without permission`).toEqual([]);
    });
  }
});
