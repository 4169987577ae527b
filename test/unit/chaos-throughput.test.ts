import { describe, expect, it } from 'vitest';
import { type DrainFigures, faultyOverClean } from '../../infra/local/chaos-throughput.ts';

const drainOf = (faulty: boolean, sustainedPerSecond: number, mostPerSecond: number) =>
  ({ faulty, sustainedPerSecond, mostPerSecond }) as DrainFigures;

describe('chaos throughput: the faulty rate against the fault-free one in the same run', () => {
  it('divides the faulty phase by the mean of the fault-free phases, for either rate', () => {
    const phases = [drainOf(false, 600, 900), drainOf(true, 140, 200), drainOf(false, 1_000, 1_100)];
    expect(faultyOverClean(phases, ({ sustainedPerSecond }) => sustainedPerSecond)).toBeCloseTo(140 / 800);
    expect(faultyOverClean(phases, ({ mostPerSecond }) => mostPerSecond)).toBeCloseTo(200 / 1_000);
  });
});
