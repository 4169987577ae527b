import { describe, expect, it } from 'vitest';
import { type DrainFigures, faultyOverClean, type PhaseFaults } from '../../infra/local/chaos-throughput.ts';

const drainOf = (faulty: PhaseFaults, sustainedPerSecond: number, mostPerSecond: number) =>
  ({ faulty, sustainedPerSecond, mostPerSecond }) as DrainFigures;

describe('chaos throughput: the faulty rate against the fault-free one in the same run', () => {
  const phases = [
    drainOf('none', 600, 900),
    drainOf('all', 140, 200),
    drainOf('no crashes', 300, 400),
    drainOf('none', 1_000, 1_100),
  ];

  it('divides the phase with every fault by the mean of the fault-free phases, for either rate', () => {
    expect(faultyOverClean(phases, ({ sustainedPerSecond }) => sustainedPerSecond)).toBeCloseTo(140 / 800);
    expect(faultyOverClean(phases, ({ mostPerSecond }) => mostPerSecond)).toBeCloseTo(200 / 1_000);
  });

  it("divides the phase without the pollers' crashes by the same fault-free mean", () => {
    const rate = ({ sustainedPerSecond }: DrainFigures) => sustainedPerSecond;
    expect(faultyOverClean(phases, rate, 'no crashes')).toBeCloseTo(300 / 800);
  });
});
