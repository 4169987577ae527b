import { describe, expect, it } from 'vitest';
import {
  type ChaosOptions,
  chaosStackOptions,
  DEFAULT_FAULT_RATES,
  typesenseFaultPlan,
} from '../../infra/local/chaos.ts';
import { startLocalStack } from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import {
  expectShopIndexesExact,
  SHOP_ALIASES,
  SHOP_INDEXES,
  SHOP_KEY_ATTRIBUTES,
  shopWriter,
} from '../helpers/three-indexes.ts';

/**
 * The three indexes of test/integration/three-indexes.test.ts (two routed, one aggregated) under the chaos
 * run's default faults: Typesense answering 503/429/500, timing out, failing import lines and losing
 * responses (the fault proxy sits in front of every index's writer), the stream and every index's writer
 * poller crashing after invocations and delivering twice. Once the faults stop, each index must converge to
 * exactly its oracle's documents: 0 lost, 0 stale, 0 resurrected, `verify` clean, its DLQ empty.
 */
const seed = Number(process.env.CHAOS_SEED ?? 1);

describe('three indexes of one table under chaos', () => {
  it('converges every index to the table with no lost, stale or resurrected document and no dead letter', async () => {
    // A receive limit the injected faults cannot reach by chance: any dead letter is then a defect.
    const options: ChaosOptions = { seed, keys: 0, ops: 0, maxReceiveCount: 10 };
    const pollerFaults = {
      random: seededRandom(seed * 7919 + 1),
      // Three times the default: this run's few invocations (~500 writes) must see crashes.
      crashAfterInvokeRate: 3 * DEFAULT_FAULT_RATES.crashes,
      duplicateDeliveryRate: DEFAULT_FAULT_RATES.duplicates,
    };
    // The shop's items carry no source timestamp; everything else is the chaos run's stack.
    const { sourceTimestampAttribute: _none, ...chaos } = chaosStackOptions(options, pollerFaults);
    const stack = await startLocalStack({
      ...chaos,
      keyAttributes: SHOP_KEY_ATTRIBUTES,
      tableName: 'shop',
      indexes: SHOP_INDEXES,
    });
    try {
      const faults = stack.faults;
      if (faults === undefined) throw new Error('the chaos stack has no fault proxy');
      faults.setFaults(typesenseFaultPlan(options, DEFAULT_FAULT_RATES));
      const writer = shopWriter(stack, seededRandom(seed));
      await writer.seed();
      await writer.churn(20, 2);
      await writer.flipOrder(0, 50);

      // Quiesce: the faults stop, and the pipelines must converge by themselves. A Typesense fault kind
      // not shown yet still comes once (a loaded machine's writers may make few writes while the shop writes).
      faults.stopRandomFaults();
      pollerFaults.crashAfterInvokeRate = 0;
      pollerFaults.duplicateDeliveryRate = 0;
      await stack.waitForIdle(240_000);

      const writers = SHOP_ALIASES.map((alias) => stack.indexes[alias]?.queuePoller);
      const sum = (counts: (number | undefined)[]) =>
        counts.reduce<number>((total, n) => total + (n ?? 0), 0);
      const crashes = sum([stack.streamPoller, ...writers].map((poller) => poller?.stats.injectedCrashes));
      const duplicates = sum(writers.map((poller) => poller?.stats.injectedDuplicates));
      const kinds = [
        'http503',
        'http429',
        'http500',
        'timeouts',
        'importLineFailures',
        'lostResponses',
      ] as const;
      console.info(
        `three indexes under chaos (seed ${seed}): ${kinds.map((kind) => `${kind} ${faults.faultStats[kind]}`).join(', ')}, poller crashes ${crashes}, duplicate deliveries ${duplicates}`,
      );
      for (const kind of kinds) expect(faults.faultStats[kind], kind).toBeGreaterThan(0);
      expect(crashes).toBeGreaterThan(0);
      await expectShopIndexesExact(stack);
    } finally {
      await stack.stop();
    }
  }, 300_000);
});
