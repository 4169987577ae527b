import { type OverloadReport, runOverload } from '../infra/local/overload.ts';
import { num, type Section } from './report.ts';

export interface P7Options {
  items: number;
  /** Writer pollers (Lambda instances of the event source mapping), each row one run. */
  writerConcurrency: number[];
}

/** The node of the overload test (test/integration/overload.test.ts): 200 documents/s, write lag 1. */
const NODE = { documentsPerSecond: 200, healthyWriteLag: 1 } as const;

/**
 * P7: the writer against a Typesense node that applies a fixed number of documents a second and answers
 * 503 "Not Ready or Lagging" above its healthy write lag. How much of the node's time the writer keeps it
 * busy, what it costs in refused requests and batches given back, and whether the circuit opened.
 */
export async function runP7(options: P7Options): Promise<Section> {
  const runs: { writerConcurrency: number; report: OverloadReport }[] = [];
  for (const writerConcurrency of options.writerConcurrency) {
    const report = await runOverload({
      items: options.items,
      ...NODE,
      writerConcurrency,
      buckets: writerConcurrency,
    });
    runs.push({ writerConcurrency, report });
  }
  return {
    id: 'P7',
    title: 'Writer against a lagging Typesense (503 above a fixed import rate)',
    tables: [
      {
        columns: [
          'writer pollers (= message groups)',
          'node limit docs/s',
          'node rate reached docs/s',
          'applied docs/s',
          'utilisation',
          '503 answers',
          'messages given back',
          'dead letters',
          'circuit opened',
        ],
        rows: runs.map(({ writerConcurrency, report }) => [
          num(writerConcurrency),
          num(report.documentsPerSecond),
          num(report.nodeRatePerSecond),
          num(report.appliedPerSecond),
          `${num(report.utilisation * 100, 1)} %`,
          num(report.lagRejections),
          num(report.messagesFailed),
          num(report.deadLetters),
          num(report.circuitOpened),
        ]),
      },
    ],
    notes: [
      `Each row: the embedded stack with ${num(options.items)} items queued before the writer starts (infra/local/overload.ts), against the in-process emulator limited to ${NODE.documentsPerSecond} documents/s with a healthy write lag of ${NODE.healthyWriteLag} queued write: above it every write is answered 503 "Not Ready or Lagging", as Typesense's ReplicationState does. Window: first write taken → 90 % of the items applied.`,
      'Utilisation = the share of the window the node had writes queued; applied docs/s ÷ the node rate reached is the same ratio by another count. The goal (issue 23): ≥ 90 %, 0 dead letters, the circuit never opening.',
      'Messages given back = batches the writer returned to the queue for a backoff (each holds its FIFO group for seconds); with the adaptive limit a 503 is absorbed inside the invocation.',
      'The writer pollers share one writer handler, so one adaptive import limit (cap 4, N − 2 of 6 cores) sheds their concurrency; on AWS each instance has one batch in flight and the event source bounds the instances (docs/configuration.md, "Write concurrency").',
    ],
    data: runs.map(({ writerConcurrency, report }) => ({ writerConcurrency, ...report })),
  };
}
