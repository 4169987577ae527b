import { readFile, writeFile } from 'node:fs/promises';
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
  /** Why the run was made as it was (`--note`), printed under the command and kept with its sections. */
  note?: string;
}

/** How one section was measured, kept with its figures so a merged report still says when and where. */
interface SectionRun {
  command: string;
  startedAt: string;
  quick: boolean;
  machine: ReturnType<typeof machine>;
  note?: string;
}

interface StoredSection {
  id: string;
  run?: SectionRun;
  [field: string]: unknown;
}

interface StoredResults extends Partial<SectionRun> {
  sections?: StoredSection[];
}

const SECTION_HEADING = /^## (P\d+) — /;

/** The Markdown of each section of an earlier report, by id (`## P3 — …` up to the next heading). */
export function sectionsOfMarkdown(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  let current: { id: string; lines: string[] } | undefined;
  const close = () => {
    if (current !== undefined) found.set(current.id, current.lines.join('\n').trim());
  };
  for (const text of markdown.split('\n')) {
    const id = SECTION_HEADING.exec(text)?.[1];
    if (id !== undefined) {
      close();
      current = { id, lines: [text] };
    } else if (text.startsWith('## ')) {
      close();
      current = undefined;
    } else current?.lines.push(text);
  }
  close();
  return found;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The sections of the earlier report that this run did not measure again, with their Markdown, so a
 * subset run (`--only`) replaces its own sections and keeps everyone else's figures unchanged.
 */
async function keptSections(out: string, json: string, fresh: ReadonlySet<string>) {
  const [markdown, stored] = await Promise.all([readOptional(out), readOptional(json)]);
  if (markdown === undefined || stored === undefined) return [];
  const previous = JSON.parse(stored) as StoredResults;
  const texts = sectionsOfMarkdown(markdown);
  const fallback: SectionRun | undefined =
    previous.command === undefined || previous.startedAt === undefined || previous.machine === undefined
      ? undefined
      : {
          command: previous.command,
          startedAt: previous.startedAt,
          quick: previous.quick ?? false,
          machine: previous.machine,
        };
  return (previous.sections ?? []).flatMap((section) => {
    const text = texts.get(section.id);
    const run = section.run ?? fallback;
    if (fresh.has(section.id) || text === undefined || run === undefined) return [];
    return [{ section: { ...section, run }, markdown: text }];
  });
}

/**
 * Writes the Markdown report (`out`) and the raw figures (`json`); returns the Markdown. With
 * `keepOthers`, sections of the existing report that this run did not measure are kept as they were.
 */
export async function writeResults(
  sections: Section[],
  run: RunInfo,
  out: string,
  json: string,
  keepOthers = false,
) {
  const host = machine();
  const sectionRun: SectionRun = {
    command: run.command,
    startedAt: run.startedAt.toISOString(),
    quick: run.quick,
    machine: host,
    ...(run.note === undefined ? {} : { note: run.note }),
  };
  const kept = keepOthers ? await keptSections(out, json, new Set(sections.map(({ id }) => id))) : [];
  const all = [
    ...sections.map((section) => ({
      id: section.id,
      markdown: renderSection(section),
      stored: { ...omitTables(section), run: sectionRun } as StoredSection,
    })),
    ...kept.map(({ section, markdown }) => ({ id: section.id, markdown, stored: section })),
  ].sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
  const keptRuns = [...new Set(kept.map(({ section }) => JSON.stringify(section.run)))].map(
    (text) => JSON.parse(text) as SectionRun,
  );
  const markdown = [
    '# Benchmark results',
    [
      `Command: \`${run.command}\`${run.quick ? ' (quick mode: smaller samples)' : ''}  `,
      `Date: ${run.startedAt.toISOString()}, total run time ${num(run.seconds)} s  `,
      `Machine: ${host.cpu}, ${host.memory}, ${host.os}, Node.js ${host.node}`,
    ].join('\n'),
    ...(run.note === undefined ? [] : [`Note: ${run.note}`]),
    ...keptRuns.map(
      (previous) =>
        `This command measured ${sections.map(({ id }) => id).join(', ')} only; ` +
        `${kept
          .filter(({ section }) => JSON.stringify(section.run) === JSON.stringify(previous))
          .map(({ section }) => section.id)
          .join(', ')} are kept unchanged from \`${previous.command}\` of ${previous.startedAt} ` +
        `(${previous.machine.cpu}, Node.js ${previous.machine.node})${previous.note === undefined ? '' : `, run because: ${previous.note}`}.`,
    ),
    'Every ratio compares figures measured side by side in the same run. Nothing here is asserted as a ' +
      'test: the figures depend on the machine. The naive anchor (`bench/naive.ts`) sends one SQS ' +
      'message per change carrying the full document and makes one Typesense request per change, with ' +
      'no coalescing.',
    ...all.map((section) => section.markdown),
  ].join('\n\n');
  await writeFile(out, `${markdown}\n`);
  await writeFile(
    json,
    `${JSON.stringify({ ...sectionRun, seconds: run.seconds, sections: all.map(({ stored }) => stored) }, null, 2)}\n`,
  );
  return markdown;
}

const omitTables = ({ tables: _, ...rest }: Section) => rest;
