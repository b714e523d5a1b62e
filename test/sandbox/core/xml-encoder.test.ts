/**
 * The query codec's compiled response encoder against the SDK's XmlShapeSerializer (the reference): for
 * every operation output schema of the six query-protocol clients, seeded values — well typed, mistyped,
 * null, special characters, every timestamp form — must encode to the same bytes (or fail the same way).
 */
import { NormalizedSchema } from '@smithy/core/schema';
import { describe, expect, it } from 'vitest';
import { serializeMembers } from '../../../sandbox/core/codec/query';
import { outputEncoder, Unsupported } from '../../../sandbox/core/codec/xml-encoder';
import { seeded } from '../services/seeded';

const CLIENTS = {
  ec2: () => import('@aws-sdk/client-ec2'),
  iam: () => import('@aws-sdk/client-iam'),
  cloudformation: () => import('@aws-sdk/client-cloudformation'),
  sns: () => import('@aws-sdk/client-sns'),
  sts: () => import('@aws-sdk/client-sts'),
  sqs: () => import('@aws-sdk/client-sqs'),
};

type Rng = ReturnType<typeof seeded>;

const TEXT = ['', 'plain', 'a&b<c>"d"\'e', 'line\r\nbreak\u0085\u2028', 'ünï©ødé', '  spaced  ', '__proto__'];

function scalarValue(ns: NormalizedSchema, r: Rng): unknown {
  if (ns.isTimestampSchema())
    return r.pick([
      new Date(Date.UTC(2026, 11, 8, 1, 2, 3)),
      new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 123)),
      1_765_000_000,
      1_765_000_000_123,
      '2026-12-08T01:02:03Z',
      'not a date',
      {},
    ]);
  if (ns.isBooleanSchema()) return r.pick([true, false, 'true', 'false', 'yes', 0]);
  if (ns.isNumericSchema()) return r.pick([0, 42, -7, 3.25, 1e21, '42', 'abc', Number.NaN]);
  if (ns.isBlobSchema()) return r.pick([new Uint8Array([0, 1, 255]), 'text', Buffer.from('buf'), 7]);
  return r.pick([...TEXT, 12, true, { nested: ['x'] }, ['a', 1]]);
}

function value(ns: NormalizedSchema, r: Rng, depth: number): unknown {
  const roll = r.next();
  if (roll < 0.05) return null;
  if (roll < 0.1) return r.pick(['mistyped', 5, [], {}]);
  if (ns.isListSchema()) {
    if (depth > 3) return [];
    const n = Math.floor(r.next() * 4);
    return Array.from({ length: n }, () => value(ns.getValueSchema(), r, depth + 1));
  }
  if (ns.isMapSchema()) {
    if (depth > 3) return {};
    const out: Record<string, unknown> = {};
    for (let i = Math.floor(r.next() * 3); i > 0; i--)
      out[r.pick(TEXT)] = value(ns.getValueSchema(), r, depth + 1);
    return out;
  }
  if (ns.isStructSchema()) {
    if (depth > 3) return {};
    const out: Record<string, unknown> = {};
    for (const [name, member] of ns.structIterator())
      if (r.next() < 0.7) out[name] = value(member, r, depth + 1);
    return out;
  }
  return scalarValue(ns, r);
}

/** What the codec sends: the compiled encoder, else (Unsupported) the serializer. Errors as their text. */
function encoded(out: NormalizedSchema, v: unknown, encode: (v: unknown) => string): string {
  try {
    try {
      return encode(v);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      return serializeMembers(out, v);
    }
  } catch (err) {
    return `threw ${(err as Error).name}: ${(err as Error).message}`;
  }
}

function reference(out: NormalizedSchema, v: unknown): string {
  try {
    return serializeMembers(out, v);
  } catch (err) {
    return `threw ${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('compiled query response encoder', () => {
  for (const [service, load] of Object.entries(CLIENTS)) {
    it(`encodes ${service}'s outputs byte for byte as the SDK's XmlShapeSerializer`, async () => {
      const client = (await load()) as unknown as Record<string, unknown>;
      let operations = 0;
      let compiled = 0;
      for (const [name, op] of Object.entries(client)) {
        if (!name.endsWith('$') || !Array.isArray(op) || op[0] !== 9 || op.length !== 6) continue;
        const ref = op[5] as unknown;
        const out = NormalizedSchema.of((typeof ref === 'function' ? ref() : ref) as never);
        if (!out.isStructSchema()) continue;
        operations++;
        const encode = outputEncoder(out);
        if (!encode) continue;
        compiled++;
        const r = seeded(name.length * 7919 + operations);
        for (let i = 0; i < 4; i++) {
          const v = value(out, r, 0) ?? {};
          expect(encoded(out, v, encode as (v: unknown) => string), `${service} ${name} seed case ${i}`).toBe(
            reference(out, v),
          );
        }
      }
      // Nearly every output compiles (a test where everything fell back would compare nothing).
      expect(operations).toBeGreaterThan(5);
      expect(compiled / operations).toBeGreaterThan(0.9);
    }, 120_000);
  }

  it('compiles the outputs the remediations read most (DescribeStackResources, DetectStackResourceDrift)', async () => {
    const cfn = (await import('@aws-sdk/client-cloudformation')) as unknown as Record<string, unknown[]>;
    for (const op of ['DescribeStackResources$', 'DetectStackResourceDrift$', 'DescribeStacks$']) {
      const out = NormalizedSchema.of(cfn[op]?.[5] as never);
      expect(outputEncoder(out), op).toBeDefined();
    }
  });
});
