/**
 * Record outcome prices every state machine function at WORKFLOW_MEMORY_MB (tasks/record-outcome/cost.ts:
 * the history without execution data does not always name the function). This holds only while no
 * workflow task is given other memory: the synthesized template says so.
 */
import { describe, expect, it } from 'vitest';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { WORKFLOW_MEMORY_MB } from '../../tasks/record-outcome/cost';
import { WORKFLOW_TASKS } from '../../workflows/remediation';
import { synth } from './synth';

const resources = synth().json.Resources as Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

describe('the memory the stored cost assumes', () => {
  it('every state machine function has WORKFLOW_MEMORY_MB', () => {
    const memory = Object.fromEntries(
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function')
        .map((r) => [String(r.Metadata?.[TASK_METADATA_KEY]), r.Properties?.MemorySize]),
    );
    expect(Object.keys(memory)).toEqual(expect.arrayContaining([...WORKFLOW_TASKS]));
    for (const task of WORKFLOW_TASKS) expect(memory[task], task).toBe(WORKFLOW_MEMORY_MB);
  });
});
