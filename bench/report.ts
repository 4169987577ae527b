import { writeFile } from 'node:fs/promises';
import os from 'node:os';

export interface Table {
  columns: string[];
  rows: string[][];
}

/** One benchmark's outcome: tables for people, `data` (raw figures) for results.json. */
export interface Section {
  id: string;
  title: string;
  tables: Table[];
  /** What was measured and how, so a figure is never read without its conditions. */
  notes: string[];
  data: unknown;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Whole numbers with thousands separators; fractional ones with `digits` decimals. */
export function num(value: number, digits = 0): string {
  return digits === 0
    ? integer.format(value)
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `a / b` as a ratio such as `0.021×` or `48×`. */
export function ratio(a: number, b: number): string {
  const value = a / b;
  return `${value >= 10 ? num(value) : value >= 0.1 ? num(value, 2) : value.toPrecision(2)}×`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export function markdownTable({ columns, rows }: Table): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(columns), line(columns.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderSection(section: Section): string {
  return [
    `## ${section.id} — ${section.title}`,
    ...section.tables.map(markdownTable),
    section.notes.map((note) => `- ${note}`).join('\n'),
  ]
    .filter((part) => part.length > 0)
    .join('\n\n');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: `${cpus[0]?.model.trim() ?? 'unknown'} × ${cpus.length}`,
    memory: `${num(os.totalmem() / 2 ** 30, 1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

export interface RunInfo {
  command: string;
  startedAt: Date;
  seconds: number;
  quick: boolean;
}

/** Writes the Markdown report (`out`) and the raw figures (`json`); returns the Markdown. */
export async function writeResults(sections: Section[], run: RunInfo, out: string, json: string) {
  const host = machine();
  const markdown = [
    '# Benchmark results',
    [
      `Command: \`${run.command}\`${run.quick ? ' (quick mode: smaller samples)' : ''}  `,
      `Date: ${run.startedAt.toISOString()}, total run time ${num(run.seconds)} s  `,
      `Machine: ${host.cpu}, ${host.memory}, ${host.os}, Node.js ${host.node}`,
    ].join('\n'),
    'Every ratio compares figures measured side by side in the same run. Nothing here is asserted as a ' +
      'test: the figures depend on the machine. The naive anchor (`bench/naive.ts`) sends one SQS ' +
      'message per change carrying the full document and makes one Typesense request per change, with ' +
      'no coalescing.',
    ...sections.map(renderSection),
  ].join('\n\n');
  await writeFile(out, `${markdown}\n`);
  await writeFile(
    json,
    `${JSON.stringify({ ...run, machine: host, sections: sections.map(({ tables: _, ...rest }) => rest) }, null, 2)}\n`,
  );
  return markdown;
}
