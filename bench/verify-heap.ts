/**
 * Heap used by `verify` for a large collection: `npx tsx bench/verify-heap.ts [documents]` (default 200,000).
 * A fake Typesense streams the export (generated line by line, never held whole) and a fake DynamoDB
 * scans the same items in pages of 1,000; the peak heap above the baseline is sampled every 20 ms.
 * Compared: verify as it runs (export streamed) and the export read whole (`exportDocuments`), as
 * verify did before.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { verifyIndex } from '../bin/cli/operations/verify.ts';
import { TypesenseClient } from '../functions/shared/typesense.ts';

const count = Number(process.argv[2] ?? 200_000);
const PAGE = 1_000;
const documentOf = (n: number) => ({
  id: `item-${n}`,
  pk: `item-${n}`,
  title: `title of item ${n} with a few words`,
  price: n % 1000,
  tags: ['a', 'b'],
});
const itemOf = (n: number): Record<string, AttributeValue> => ({
  pk: { S: `item-${n}` },
  title: { S: `title of item ${n} with a few words` },
  price: { N: String(n % 1000) },
  tags: { SS: ['b', 'a'] },
});

const server = createServer((req, res) => {
  if (req.url?.endsWith('/documents/export')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const more = () => {
      while (n < count) {
        const line = `${JSON.stringify(documentOf(n))}${n + 1 < count ? '\n' : ''}`;
        n++;
        if (!res.write(line)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ name: 'c', fields: [{ name: 'title', type: 'string' }], num_documents: count }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const typesense = new TypesenseClient({
  nodes: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
  apiKey: 'bench',
});
const dynamodb = {
  send: async (command: { input: { ExclusiveStartKey?: { n: { N: string } } } }) => {
    const start = Number(command.input.ExclusiveStartKey?.n.N ?? 0);
    const end = Math.min(count, start + PAGE);
    return {
      Items: Array.from({ length: end - start }, (_, i) => itemOf(start + i)),
      LastEvaluatedKey: end < count ? { n: { N: String(end) } } : undefined,
    };
  },
} as unknown as DynamoDBClient;

async function peakHeap(run: () => Promise<unknown>): Promise<{ peakMb: number; result: unknown }> {
  globalThis.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 20);
  const result = await run();
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  clearInterval(timer);
  return { peakMb: Math.round((peak - baseline) / 1e5) / 10, result };
}

const exportOnly = await peakHeap(async () => {
  let n = 0;
  for await (const _ of typesense.exportDocumentStream('c')) n++;
  return n;
});
/** Live heap (after a full GC) while consuming the export, every 20,000 documents: what streaming retains. */
async function liveHeapWhileStreaming(): Promise<number> {
  globalThis.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let live = 0;
  let n = 0;
  for await (const _ of typesense.exportDocumentStream('c')) {
    if (++n % 20_000 === 0) {
      globalThis.gc?.();
      live = Math.max(live, process.memoryUsage().heapUsed - baseline);
    }
  }
  return Math.round(live / 1e5) / 10;
}
const streamedLiveMb = await liveHeapWhileStreaming();
let held: unknown[] = [];
globalThis.gc?.();
const beforeWhole = process.memoryUsage().heapUsed;
const wholeExport = await peakHeap(async () => {
  held = await typesense.exportDocuments('c');
  return held.length;
});
globalThis.gc?.();
const wholeExportLiveMb = Math.round((process.memoryUsage().heapUsed - beforeWhole) / 1e5) / 10;
held = [];
const verify = await peakHeap(async () => {
  const report = await verifyIndex({
    dynamodb,
    tableName: 't',
    keyAttributes: ['pk'],
    typesense,
    collection: 'c',
  });
  return { missing: report.missing.length, extra: report.extra.length, stale: report.stale.length };
});
console.log(
  JSON.stringify(
    {
      documents: count,
      streamedExportPeakMb: exportOnly.peakMb,
      streamedExportLiveMb: streamedLiveMb,
      wholeExportPeakMb: wholeExport.peakMb,
      wholeExportLiveMb,
      verifyPeakMb: verify.peakMb,
      verify: verify.result,
    },
    null,
    2,
  ),
);
server.close();
