/**
 * The worker hand-over's batching (sandbox/core/workers.ts PortBatch): the messages posted in one turn
 * of the event loop cross as one postMessage, in order, with all their transfer lists; a later turn
 * sends its own batch; flush() sends at once and nothing twice.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PortBatch } from '../../../sandbox/core/workers';

function recorder() {
  const sent: { value: unknown; transfer: ArrayBuffer[] }[] = [];
  return {
    sent,
    target: { postMessage: (value: unknown, transfer: ArrayBuffer[]) => sent.push({ value, transfer }) },
  };
}

describe('PortBatch', () => {
  it('sends one turn’s messages as one array, in order, with every transfer', async () => {
    const { sent, target } = recorder();
    const batch = new PortBatch<number>(target);
    const a = new ArrayBuffer(4);
    const b = new ArrayBuffer(8);
    batch.post(1, [a]);
    batch.post(2);
    batch.post(3, [b]);
    expect(sent).toHaveLength(0); // not before the turn ends
    await nextTurn();
    expect(sent).toEqual([{ value: [1, 2, 3], transfer: [a, b] }]);
    batch.post(4);
    await nextTurn();
    expect(sent.map((s) => s.value)).toEqual([[1, 2, 3], [4]]);
  });

  it('flush() sends what is queued at once, and the turn end then sends nothing more', async () => {
    const { sent, target } = recorder();
    const batch = new PortBatch<string>(target);
    batch.post('x');
    batch.flush();
    expect(sent.map((s) => s.value)).toEqual([['x']]);
    await nextTurn();
    expect(sent).toHaveLength(1);
  });
});
