import type { FilterExplanation, FilterStep } from '../../../functions/core/filter.ts';
import { documentJson } from '../../../functions/core/project.ts';
import type { IndexPreview, PreviewReport } from '../operations/preview.ts';

/** Strings and lists longer than this are cut in the text output (`--json` gives the whole document). */
export const SHOWN_CHARACTERS = 200;
export const SHOWN_MEMBERS = 20;

/** A document value with long strings and lists cut, each cut saying how much it left out. */
export function shortened(value: unknown): unknown {
  if (typeof value === 'string')
    return value.length <= SHOWN_CHARACTERS
      ? value
      : `${value.slice(0, SHOWN_CHARACTERS)}… (${value.length - SHOWN_CHARACTERS} more characters)`;
  if (Array.isArray(value)) {
    const shown = value.slice(0, SHOWN_MEMBERS).map(shortened);
    return value.length <= SHOWN_MEMBERS ? shown : [...shown, `… ${value.length - SHOWN_MEMBERS} more`];
  }
  if (typeof value !== 'object' || value === null) return value;
  const object: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) {
    Object.defineProperty(object, name, { value: shortened(member), enumerable: true, writable: true });
  }
  return object;
}

const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');

function stepLine({ path, depth, node, attribute, operand, value, matched }: FilterStep): string {
  const mark = matched ? '✓' : '✗';
  const test =
    attribute === undefined ? node : `${attribute} ${node} ${JSON.stringify(operand)} (item: ${value})`;
  return `${'  '.repeat(depth)}${mark} ${path}: ${test}`;
}

function filterLines(filter: FilterExplanation | undefined): string[] {
  if (filter === undefined) return ['  filter: none (every item is indexed)'];
  return [
    `  filter: ${filter.matches ? 'matches' : 'does not match'}`,
    ...filter.steps.map((step) => `    ${stepLine(step)}`),
  ];
}

function outcomeLine(preview: IndexPreview): string {
  const at = `index '${preview.index}', document id ${preview.id === undefined ? 'none' : `'${preview.id}'`}`;
  switch (preview.outcome) {
    case 'indexed':
      return `${at}: indexed`;
    case 'filtered-out':
      return `${at}: not indexed — the filter leaves it out (the writer deletes the id, a no-op where absent)`;
    case 'left-out-by-transform':
      return `${at}: not indexed — the transform answers null (the writer deletes the id, a no-op where absent)`;
    case 'dead-lettered':
      return `${at}: would be dead-lettered: ${preview.reason}`;
    case 'no-item':
      return `${at}: no item — the writer deletes the id (a no-op where absent)`;
    case 'no-parent':
      return `${at}: not indexed — the partition holds no parent item (the writer deletes the id, a no-op where absent)`;
    case 'needs-partition':
      return `${at}: aggregated — its document is built from the whole partition: preview it with --key`;
    case 'not-in-index':
      return `${at}: never in this index — its id rule leaves out a key attribute the filter pins to another value (the writer writes nothing here)`;
  }
}

function indexLines(preview: IndexPreview): string[] {
  const lines = [outcomeLine(preview)];
  if (['no-item', 'no-parent', 'needs-partition', 'not-in-index'].includes(preview.outcome)) return lines;
  lines.push(...filterLines(preview.filter));
  if (preview.outcome === 'indexed')
    lines.push('  document:', indent(documentJson(shortened(preview.document), 2), 4));
  return lines;
}

/** Whether the writer would dead-letter the item somewhere: `preview` then exits 2, so CI can test rules. */
export const wouldDeadLetter = (report: PreviewReport) =>
  report.indexes.some(({ outcome }) => outcome === 'dead-lettered');

/** `preview`: per index, what the writer would do with the item, why, and the document it would write. */
export function renderPreview(report: PreviewReport): string {
  const exists = report.indexes.some(({ outcome }) => outcome !== 'no-item');
  const header = `item ${JSON.stringify(report.key)} from ${report.source}${exists ? '' : ': not found'}`;
  return [header, ...report.indexes.flatMap(indexLines)].join('\n');
}
