/**
 * The sandbox's Lambda runners (sandbox/core/functions.ts): at most `maxConcurrent` handlers run at once,
 * the rest wait first come first served, and `onStart` marks when each one starts running (where a
 * run-time limit begins). A handler idle in a wait on a service (`whileIdle`) lends its runner and takes
 * one again, ahead of invocations not yet started, when its wait ends. A function's priority puts its
 * invocations ahead of lower ones; reserved runners are left to prioritized invocations.
 */
import { describe, expect, it } from 'vitest';
import { FunctionRegistry, whileIdle } from '../../../sandbox/core/functions';
import { startSandbox } from '../../../sandbox/core/sandbox';

/** A function whose invocations stay open until released by hand. */
function gatedFunction(reg: FunctionRegistry, name = 'gated', priority?: number) {
  const running: string[] = [];
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  let peak = 0;
  reg.register({
    name,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    env: {},
    ...(priority === undefined ? {} : { priority }),
    invoke: async (payload) => {
      const id = String((payload as { id: string }).id);
      running.push(id);
      started.push(id);
      peak = Math.max(peak, running.length);
      await new Promise<void>((r) => gates.set(id, r));
      running.splice(running.indexOf(id), 1);
      if (id === 'boom') throw Object.assign(new Error('failed'), { name: 'HandlerError' });
      return { id };
    },
  });
  const finish = async (id: string) => {
    for (let i = 0; i < 50 && !gates.has(id); i++) await new Promise((r) => setTimeout(r, 1));
    gates.get(id)?.();
  };
  return { running, started, finish, peak: () => peak };
}

describe('sandbox Lambda runners', () => {
  it('runs at most maxConcurrent handlers; the others start in arrival order as runners free up', async () => {
    const reg = new FunctionRegistry(2);
    const f = gatedFunction(reg);
    const onStart: string[] = [];
    const calls = ['a', 'b', 'c', 'd'].map((id) =>
      reg.invoke('gated', { id }, { onStart: () => onStart.push(id) }),
    );
    await new Promise((r) => setTimeout(r, 5));
    expect(f.started).toEqual(['a', 'b']);
    expect(onStart).toEqual(['a', 'b']);
    expect(reg.queued).toBe(2);
    await f.finish('b');
    await expect(calls[1]).resolves.toEqual({ id: 'b' });
    await new Promise((r) => setTimeout(r, 5));
    expect(onStart).toEqual(['a', 'b', 'c']);
    for (const id of ['a', 'c', 'd']) await f.finish(id);
    await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c', 'd'].map((id) => ({ id })));
    expect(f.peak()).toBe(2);
    expect(reg.queued).toBe(0);
  });

  it('a failing handler frees its runner too; its error reaches the caller unchanged', async () => {
    const reg = new FunctionRegistry(1);
    const f = gatedFunction(reg);
    const failing = reg.invoke('gated', { id: 'boom' });
    const next = reg.invoke('gated', { id: 'after' });
    await f.finish('boom');
    await expect(failing).rejects.toMatchObject({ name: 'HandlerError' });
    await f.finish('after');
    await expect(next).resolves.toEqual({ id: 'after' });
  });

  it('an unknown function is ResourceNotFoundException and takes no runner', async () => {
    const reg = new FunctionRegistry(1);
    await expect(reg.invoke('nope', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const f = gatedFunction(reg);
    const call = reg.invoke('gated', { id: 'x' });
    await f.finish('x');
    await expect(call).resolves.toEqual({ id: 'x' });
  });

  it('a handler waiting on a service lends its runner; back from the wait it runs before invocations not yet started', async () => {
    const reg = new FunctionRegistry(1);
    const log: string[] = [];
    const waits = new Map<string, () => void>();
    const blocks = new Map<string, () => void>();
    const until = async (m: Map<string, () => void>, id: string) => {
      for (let i = 0; i < 50 && !m.has(id); i++) await new Promise((r) => setTimeout(r, 1));
      m.get(id)?.();
    };
    reg.register({
      name: 'waits',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:waits',
      env: {},
      invoke: async (payload) => {
        const id = String((payload as { id: string }).id);
        log.push(`${id} start`);
        if (id === 'a') {
          await whileIdle(() => new Promise<void>((r) => waits.set(id, r)));
          log.push(`${id} resumed (${reg.active} active)`);
        } else {
          await new Promise<void>((r) => blocks.set(id, r));
          log.push(`${id} end`);
        }
        return id;
      },
    });
    const a = reg.invoke('waits', { id: 'a' });
    const b = reg.invoke('waits', { id: 'b' });
    await until(blocks, 'b'); // b ran while a waited: released at once
    await expect(b).resolves.toBe('b');
    const c = reg.invoke('waits', { id: 'c' });
    const d = reg.invoke('waits', { id: 'd' });
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(['a start', 'b start', 'b end', 'c start']);
    await until(waits, 'a'); // a's wait ends while c holds the only runner: a waits, ahead of d
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(['a start', 'b start', 'b end', 'c start']);
    expect(reg.queued).toBe(2);
    await until(blocks, 'c');
    await expect(a).resolves.toBe('a');
    await until(blocks, 'd');
    await expect(Promise.all([c, d])).resolves.toEqual(['c', 'd']);
    expect(log).toEqual([
      'a start',
      'b start',
      'b end',
      'c start',
      'c end',
      'a resumed (1 active)',
      'd start',
      'd end',
    ]);
    expect(reg.active).toBe(0);
    expect(reg.queued).toBe(0);
  });

  it('a freed runner goes to the highest-priority waiter first, in arrival order within a priority', async () => {
    const reg = new FunctionRegistry(1);
    const low = gatedFunction(reg, 'low');
    const high = gatedFunction(reg, 'high', 1);
    const started: string[] = [];
    const onStart = (id: string) => ({ onStart: () => started.push(id) });
    const calls = [
      reg.invoke('low', { id: 'l1' }, onStart('l1')),
      reg.invoke('low', { id: 'l2' }, onStart('l2')),
      reg.invoke('high', { id: 'h1' }, onStart('h1')),
      reg.invoke('low', { id: 'l3' }, onStart('l3')),
      reg.invoke('high', { id: 'h2' }, onStart('h2')),
    ];
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual(['l1']);
    for (const [f, id] of [
      [low, 'l1'],
      [high, 'h1'],
      [high, 'h2'],
      [low, 'l2'],
      [low, 'l3'],
    ] as const) {
      await f.finish(id);
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(calls);
    expect(started).toEqual(['l1', 'h1', 'h2', 'l2', 'l3']);
    expect(reg.active).toBe(0);
  });

  it('reserved runners are left to prioritized invocations; the others start only below the rest', async () => {
    const reg = new FunctionRegistry(3);
    reg.reserveRunners(1);
    const low = gatedFunction(reg, 'low');
    const high = gatedFunction(reg, 'high', 1);
    const lows = ['a', 'b', 'c'].map((id) => reg.invoke('low', { id }));
    await new Promise((r) => setTimeout(r, 5));
    expect(low.started).toEqual(['a', 'b']);
    expect(reg.queued).toBe(1); // c waits although a runner is free
    const highs = ['x', 'y'].map((id) => reg.invoke('high', { id }));
    await new Promise((r) => setTimeout(r, 5));
    expect(high.started).toEqual(['x']); // the reserved runner at once; y waits for the next one
    await high.finish('x');
    await new Promise((r) => setTimeout(r, 5));
    expect(high.started).toEqual(['x', 'y']);
    expect(low.started).toEqual(['a', 'b']);
    await low.finish('a'); // two held (b, y): c may not take the third runner
    await new Promise((r) => setTimeout(r, 5));
    expect(low.started).toEqual(['a', 'b']);
    await high.finish('y');
    await new Promise((r) => setTimeout(r, 5));
    expect(low.started).toEqual(['a', 'b', 'c']);
    expect(low.peak() + high.peak()).toBeLessThanOrEqual(3);
    reg.reserveRunners(0);
    for (const id of ['b', 'c']) await low.finish(id);
    await Promise.all([...lows, ...highs]);
    expect(reg.active).toBe(0);
    expect(() => reg.reserveRunners(-1)).toThrow(/integer >= 0/);
  });

  it('lowering the reserve starts the invocations it held back', async () => {
    const reg = new FunctionRegistry(2);
    reg.reserveRunners(1);
    const low = gatedFunction(reg, 'low');
    const calls = ['a', 'b'].map((id) => reg.invoke('low', { id }));
    await new Promise((r) => setTimeout(r, 5));
    expect(low.started).toEqual(['a']);
    reg.reserveRunners(0);
    await new Promise((r) => setTimeout(r, 5));
    expect(low.started).toEqual(['a', 'b']);
    for (const id of ['a', 'b']) await low.finish(id);
    await Promise.all(calls);
  });

  it('outside a handler, whileIdle only awaits its wait', async () => {
    const reg = new FunctionRegistry(1);
    await expect(whileIdle(async () => 7)).resolves.toBe(7);
    expect(reg.active).toBe(0);
  });
});

describe('function lookup by ARN', () => {
  const CENTRAL = 'arn:aws:lambda:us-east-1:111111111111:function:intake';
  const MEMBER = 'arn:aws:lambda:eu-west-1:222222222222:function:intake';
  const fn = (arn: string) => ({
    name: 'intake',
    arn,
    env: {},
    invoke: async () => arn,
  });

  it('an ARN names the function of that account and region only, qualified or not; a bare name the first registered', async () => {
    const reg = new FunctionRegistry(2);
    reg.register(fn(CENTRAL));
    reg.register(fn(MEMBER));
    expect(reg.get(CENTRAL)?.arn).toBe(CENTRAL);
    expect(reg.get(MEMBER)?.arn).toBe(MEMBER);
    expect(reg.get(`${MEMBER}:$LATEST`)?.arn).toBe(MEMBER);
    expect(reg.get('intake')?.arn).toBe(CENTRAL);
    // The central name in a third account, or the member's account in another region: no function.
    expect(reg.get('arn:aws:lambda:us-east-1:333333333333:function:intake')).toBeUndefined();
    expect(reg.get('arn:aws:lambda:us-east-1:222222222222:function:intake:prod')).toBeUndefined();
    await expect(reg.invoke(MEMBER, {})).resolves.toBe(MEMBER);
    await expect(
      reg.invoke('arn:aws:lambda:us-east-1:333333333333:function:intake', {}),
    ).rejects.toMatchObject({
      code: 'ResourceNotFoundException',
    });
    reg.unregister(MEMBER);
    expect(reg.get(MEMBER)).toBeUndefined();
    expect(reg.get('intake')?.arn).toBe(CENTRAL);
  });

  it('a context invokes a bare name as its own account-region function', async () => {
    const sandbox = await startSandbox({ port: 0, timeScale: 0, accountId: '111111111111' });
    try {
      sandbox.registerFunction(fn(CENTRAL));
      sandbox.registerFunction(fn(MEMBER));
      await expect(sandbox.context.invokeFunction('intake', {})).resolves.toBe(CENTRAL);
      const member = sandbox.context.scoped('222222222222', 'eu-west-1');
      await expect(member.invokeFunction('intake', {})).resolves.toBe(MEMBER);
      await expect(
        sandbox.context.scoped('333333333333', 'us-east-1').invokeFunction('intake', {}),
      ).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    } finally {
      await sandbox.stop();
    }
  });
});
