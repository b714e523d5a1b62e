/**
 * sandbox/services/dynamodb/types.ts compiles dynalite's request type checks: for every request, well
 * typed or not, the result (members and their order), the members dropped from the request and the
 * error must be dynalite's own checkTypes'.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { checkTypes } from '../../../sandbox/services/dynamodb/types';
import { seeded } from './seeded';

type Types = Record<string, unknown>;
const require = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const dynalite = require('./validations') as {
  checkTypes(d: Record<string, unknown>, t: Types): Record<string, unknown>;
};
const typesOf = (op: string) => (require(`./validations/${op}`) as { types: Types }).types;

/** What a call did: its result or error, and the request as it left it, as JSON text (key order kept). */
function effect(run: (d: Record<string, unknown>) => unknown, request: Record<string, unknown>): string {
  const data = structuredClone(request);
  try {
    return JSON.stringify({ out: run(data), data });
  } catch (err) {
    const e = err as Error & { body?: unknown };
    return JSON.stringify({ error: e.message, body: e.body, data });
  }
}

/** An attribute value, usually well typed, sometimes not (a number for a string, a list for a map…). */
function attr(r: ReturnType<typeof seeded>, depth = 0): unknown {
  const odd = [1.5, true, 'true', 'x', [], {}, null, 'AAAA', 'AAA=', 'A'];
  if (r.next() < 0.08) return r.pick(odd);
  const kind = r.pick(['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'L', 'M', 'X'] as const);
  switch (kind) {
    case 'S':
    case 'N':
      return { [kind]: r.next() < 0.9 ? String(r.next()) : r.pick(odd) };
    case 'B':
      return { B: r.pick(['AAAA', 'AAA=', 'QUJD', 'A', 'x===', 7]) };
    case 'BOOL':
    case 'NULL':
      return { [kind]: r.pick([true, false, 'yes', 'no', 1, null]) };
    case 'SS':
    case 'NS':
      return { [kind]: r.next() < 0.9 ? ['a', 'b', null] : r.pick(odd) };
    case 'L':
      return { L: depth > 2 ? [] : [attr(r, depth + 1), attr(r, depth + 1), null] };
    case 'M':
      return { M: depth > 2 ? {} : { a: attr(r, depth + 1), b: attr(r, depth + 1), n: null } };
    default:
      return { S: 'x', extra: 1, nothing: null };
  }
}

/** A well-typed request (as the tasks send them) half the time, else one with odd members. */
function request(r: ReturnType<typeof seeded>): Record<string, unknown> {
  if (r.next() < 0.5) return wellTyped(r);
  const item = () => ({ pk: attr(r), sk: attr(r), v: attr(r) });
  return {
    TableName: r.pick(['t', 'table', 7, null]),
    Item: item(),
    Key: item(),
    ExpressionAttributeValues: { ':a': attr(r), ':b': attr(r) },
    ExpressionAttributeNames: r.pick([{ '#a': 'a' }, { '#a': 1 }, null]),
    ConditionExpression: r.pick(['a = :a', 3, undefined]),
    ReturnValues: r.pick(['ALL_NEW', 'NONE', false, undefined]),
    Limit: r.pick([1, 2.7, '3', undefined]),
    ScanIndexForward: r.pick([true, false, 'false', 'maybe', undefined]),
    ExclusiveStartKey: item(),
    RequestItems: {
      t: r.pick([
        { Keys: [item(), item()] },
        [{ PutRequest: { Item: item() } }, { DeleteRequest: { Key: item() } }],
      ]),
    },
    Expected: { a: { Value: attr(r), Exists: r.pick([true, 'false', 2]), ComparisonOperator: 'EQ' } },
    Unknown: 'dropped',
    Nothing: null,
  };
}

function wellTyped(r: ReturnType<typeof seeded>): Record<string, unknown> {
  const value = (): unknown =>
    r.pick([
      { S: 'x' },
      { N: '1' },
      { BOOL: false },
      { NULL: true },
      { SS: ['a'] },
      { B: 'QUJD' },
      { L: [{ S: 'y' }, { M: { z: { N: '2' } } }] },
    ]);
  const item = () => ({ pk: { S: 'a' }, sk: value(), v: value() });
  return {
    TableName: 'table',
    Item: item(),
    Key: item(),
    ExpressionAttributeValues: { ':a': value() },
    ExpressionAttributeNames: { '#a': 'a' },
    ConditionExpression: 'a = :a',
    ReturnValues: 'ALL_NEW',
    Limit: r.pick([1, 2.7]),
    ScanIndexForward: r.pick([true, false]),
    RequestItems: {
      t: r.pick([{ Keys: [item()] }, [{ PutRequest: { Item: item() } }, { DeleteRequest: { Key: item() } }]]),
    },
    Nothing: null,
  };
}

describe('dynalite checkTypes, compiled', () => {
  it('answers like dynalite for well-typed and ill-typed requests of every item operation', () => {
    const r = seeded(42);
    const ops = [
      'putItem',
      'updateItem',
      'deleteItem',
      'getItem',
      'query',
      'scan',
      'batchGetItem',
      'batchWriteItem',
    ];
    let errors = 0;
    let handedOver = 0;
    for (let i = 0; i < 3000; i++) {
      const types = typesOf(r.pick(ops));
      const req = request(r);
      const theirs = effect((d) => dynalite.checkTypes(d, types), req);
      const ours = effect(
        (d) =>
          checkTypes(d, types, (data, t) => {
            handedOver++;
            return dynalite.checkTypes(data, t);
          }),
        req,
      );
      expect(ours, `request ${i}`).toBe(theirs);
      if (theirs.startsWith('{"error"')) errors++;
    }
    // Both kinds were exercised, and the compiled checks took the well-typed ones themselves.
    expect(handedOver).toBeLessThan(2000);
    expect(errors).toBeGreaterThan(300);
    expect(errors).toBeLessThan(2700);
  });

  it('takes a well-typed request without handing it to dynalite', () => {
    const types = typesOf('updateItem');
    const data = {
      TableName: 'leases',
      Key: { pk: { S: 'a' }, sk: { N: '1' } },
      UpdateExpression: 'SET #v = :v',
      ExpressionAttributeNames: { '#v': 'v' },
      ExpressionAttributeValues: { ':v': { M: { a: { L: [{ S: 'x' }, { BOOL: true }] } } } },
      ReturnValues: 'ALL_NEW',
      Nothing: null,
    };
    const out = checkTypes(structuredClone(data), types, () => {
      throw new Error('handed to dynalite');
    });
    expect(JSON.stringify(out)).toBe(JSON.stringify(dynalite.checkTypes(structuredClone(data), types)));
  });
});
