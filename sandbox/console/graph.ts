/**
 * The state graph of a deployed definition (DescribeStateMachine's ASL): top-level states, their
 * transitions (Next, Choices, Default, Catch) and the Lambda functions the Task states invoke. The page
 * lays it out with dagre; nothing here positions anything.
 */
import { lambdaFunctionName as functionName } from '../../tasks/shared/cost';

export interface GraphNode {
  name: string;
  type: string;
  end: boolean;
  /** The function a Task state invokes. */
  function?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: 'next' | 'choice' | 'default' | 'catch';
}

export interface GraphDefinition {
  startAt: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Function names the Task states invoke (ARN → name). */
  functions: string[];
}

interface AslState {
  Type?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<{ Next?: string }>;
  Catch?: Array<{ Next?: string }>;
  Resource?: string;
  Parameters?: { FunctionName?: unknown };
}

function edgesOf(name: string, s: AslState): GraphEdge[] {
  const edges: GraphEdge[] = [];
  if (s.Next) edges.push({ from: name, to: s.Next, kind: 'next' });
  for (const c of s.Choices ?? []) if (c.Next) edges.push({ from: name, to: c.Next, kind: 'choice' });
  if (s.Default) edges.push({ from: name, to: s.Default, kind: 'default' });
  for (const c of s.Catch ?? []) if (c.Next) edges.push({ from: name, to: c.Next, kind: 'catch' });
  // One edge per pair is enough to draw (several Choices may lead to the same state).
  return edges.filter((e, i) => edges.findIndex((o) => o.to === e.to) === i);
}

export function graphOf(definition: string): GraphDefinition {
  const asl = JSON.parse(definition) as { StartAt?: string; States?: Record<string, AslState> };
  const states = Object.entries(asl.States ?? {});
  const fnOf = (s: AslState) => {
    const fn = s.Parameters?.FunctionName;
    if (typeof fn === 'string') return functionName(fn);
    return s.Resource?.startsWith('arn:aws:lambda:') ? functionName(s.Resource) : undefined;
  };
  const functions = new Set(states.flatMap(([, s]) => fnOf(s) ?? []));
  return {
    startAt: asl.StartAt ?? '',
    nodes: states.map(([name, s]) => ({
      name,
      type: s.Type ?? 'Task',
      end: s.End === true || s.Type === 'Succeed' || s.Type === 'Fail',
      ...(fnOf(s) ? { function: fnOf(s) } : {}),
    })),
    edges: states.flatMap(([name, s]) => edgesOf(name, s)),
    functions: [...functions],
  };
}
