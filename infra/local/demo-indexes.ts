import type { VerifyReport } from '../../bin/cli/operations/verify.ts';
import type { LocalIndexStatus, LocalStack } from './stack.ts';

/** `npm start`'s figures and checks per index of the demo table. */

/** What the status line shows of an index: from the stack's status (`LocalStatus.indexes`). */
export type IndexFigures = Pick<LocalIndexStatus, 'alias' | 'documents' | 'pendingMessages' | 'dlqDepth'>;

/** The status line's tail: `| products 212 docs 0 msg DLQ 0 · reviews …`; empty without figures. */
export function formatIndexFigures(indexes: readonly IndexFigures[]): string {
  if (indexes.length === 0) return '';
  const each = indexes.map(
    ({ alias, documents, pendingMessages, dlqDepth }) =>
      `${alias} ${documents ?? '?'} docs ${pendingMessages} msg DLQ ${dlqDepth}`,
  );
  return ` | ${each.join(' · ')}`;
}

/** One index's verify in one line, and whether it is clean: no drift, nothing the index refuses. */
export function verdictOf(alias: string, report: VerifyReport): { clean: boolean; line: string } {
  const { missing, extra, stale, unprojectable } = report;
  const clean = missing.length + extra.length + stale.length + unprojectable.length === 0;
  const figures = `${report.tableItems} table items, ${report.indexDocuments} documents`;
  return {
    clean,
    line: clean
      ? `verify ${alias}: clean — the index matches the table field by field (${figures})`
      : `verify ${alias}: NOT CLEAN — missing ${missing.length}, extra ${extra.length}, stale ${stale.length}, ` +
        `refused ${unprojectable.length} (${figures})`,
  };
}

/** Every index against the table (`verify` as the CLI runs it), the first first. */
export async function verifyIndexes(stack: LocalStack): Promise<{ clean: boolean; line: string }[]> {
  const verdicts = [];
  for (const index of Object.values(stack.indexes))
    verdicts.push(verdictOf(index.alias, await index.verify()));
  return verdicts;
}
