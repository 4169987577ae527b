/**
 * Measures the shape the issue-22 "done when" rules fix: files read in one sitting (≤ 500 lines),
 * functions read on one screen (≤ 80 lines), and no block of six or more lines written twice.
 * The measures are pure over (path, text) pairs so test/unit/code-shape.test.ts can check them on
 * small inputs before it trusts them on the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

export const MAX_FILE_LINES = 500;
export const MAX_FUNCTION_LINES = 80;
export const MIN_DUPLICATE_LINES = 6;

/** The source folders the rules cover: everything but test/ and data. */
export const SOURCE_ROOTS = ['bin', 'lib', 'functions', 'infra', 'bench', 'scripts', 'examples'];
/** Folders that hold installed, built or generated files, never sources. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'cdk.out', '.local', 'coverage']);
const SOURCE_FILE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;

export interface SourceFile {
  /** Repository-relative, with `/` separators (the form the exception maps use). */
  readonly path: string;
  readonly text: string;
}

export interface Offender {
  /** `path` for a file, `path#name` for a function, `a ~ b` (sorted paths) for a duplicate. */
  readonly key: string;
  readonly detail: string;
}

export function readSourceFiles(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(full);
      } else if (entry.isFile() && SOURCE_FILE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.push({ path: relative(root, full).split(sep).join('/'), text: readFileSync(full, 'utf8') });
      }
    }
  };
  for (const folder of SOURCE_ROOTS) {
    try {
      walk(join(root, folder));
    } catch (error) {
      // A checkout without one of the optional folders (e.g. examples/) has nothing there to measure.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

function lineCount(text: string): number {
  const lines = text.split('\n');
  return text.endsWith('\n') ? lines.length - 1 : lines.length;
}

export function longFiles(files: readonly SourceFile[], max = MAX_FILE_LINES): Offender[] {
  return files
    .map((file) => ({ file, lines: lineCount(file.text) }))
    .filter(({ lines }) => lines > max)
    .map(({ file, lines }) => ({ key: file.path, detail: `${lines} lines` }));
}

/** A name a reader can find: `fn`, `Class.method`, `outer>inner`, or `outer>(anonymous)`. */
function nameOf(node: ts.Node): string | undefined {
  if (ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node)) {
    if (node.name) return node.name.text;
  }
  if (ts.isConstructorDeclaration(node)) return `${className(node.parent)}.constructor`;
  if (ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) {
    const member = node.name.getText();
    return ts.isClassLike(node.parent) ? `${className(node.parent)}.${member}` : member;
  }
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  ) {
    return parent.name.getText();
  }
  return undefined;
}

function className(node: ts.Node): string {
  return ts.isClassLike(node) && node.name ? node.name.text : '(class)';
}

function isMeasuredFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  if (ts.isArrowFunction(node)) return ts.isBlock(node.body);
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessor(node) ||
    ts.isSetAccessor(node)
  );
}

export function longFunctions(files: readonly SourceFile[], max = MAX_FUNCTION_LINES): Offender[] {
  const offenders: Offender[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node, outer: string | undefined): void => {
      let name = outer;
      if (isMeasuredFunction(node) && node.body) {
        const own = nameOf(node) ?? '(anonymous)';
        name = outer ? `${outer}>${own}` : own;
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = last - first + 1;
        if (lines > max) {
          offenders.push({ key: `${file.path}#${name}`, detail: `${lines} lines from line ${first + 1}` });
        }
      }
      ts.forEachChild(node, (child) => visit(child, name));
    };
    visit(source, undefined);
  }
  return offenders;
}

/**
 * The lines that carry meaning, folded: white space collapsed; blank lines, comments, import lines
 * and punctuation-only lines (`}`, `});`, `],`) left out, so a run is alike whatever its layout.
 */
export function meaningfulLines(text: string): { line: number; text: string }[] {
  const kept: { line: number; text: string }[] = [];
  let inImport = false;
  let inComment = false;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (inComment) {
      if (line.includes('*/')) inComment = false;
      return;
    }
    if (line.startsWith('/*')) {
      inComment = !line.includes('*/');
      return;
    }
    if (inImport) {
      if (/\bfrom\s+['"]/.test(line) || /^['"].*['"];?$/.test(line)) inImport = false;
      return;
    }
    if (/^(import|export)\b.*\bfrom\s+['"]/.test(line) || /^import\s+['"]/.test(line)) return;
    if (/^import\b/.test(line) || /^export (type )?\{$/.test(line)) {
      inImport = true;
      return;
    }
    if (line === '' || line.startsWith('//') || /^[\s{}()[\];,.]*$/.test(line)) return;
    kept.push({ line: index + 1, text: line });
  });
  return kept;
}

interface Place {
  readonly path: string;
  readonly index: number;
  readonly from: number;
  readonly to: number;
}

/**
 * Every pair of places (in two files, or two non-overlapping places in one) whose meaningful lines
 * agree for `min` lines in a row, keyed by the two paths; the detail names the longest run's lines.
 */
export function duplicateBlocks(files: readonly SourceFile[], min = MIN_DUPLICATE_LINES): Offender[] {
  const windows = new Map<string, Place[]>();
  const linesOf = new Map<string, { line: number; text: string }[]>();
  for (const file of files) {
    const lines = meaningfulLines(file.text);
    linesOf.set(file.path, lines);
    for (let index = 0; index + min <= lines.length; index++) {
      const run = lines.slice(index, index + min);
      const key = run.map((l) => l.text).join('\n');
      const place = { path: file.path, index, from: run[0]?.line ?? 0, to: run[min - 1]?.line ?? 0 };
      const seen = windows.get(key);
      if (seen) seen.push(place);
      else windows.set(key, [place]);
    }
  }
  const longest = new Map<string, { length: number; detail: string }>();
  for (const places of windows.values()) {
    for (let i = 0; i < places.length; i++) {
      for (let j = i + 1; j < places.length; j++) {
        const [a, b] = [places[i], places[j]] as [Place, Place];
        if (a.path === b.path && Math.abs(a.index - b.index) < min) continue;
        const length = extend(linesOf.get(a.path) ?? [], a.index, linesOf.get(b.path) ?? [], b.index);
        const [first, second] = a.path <= b.path ? [a, b] : [b, a];
        const key = `${first.path} ~ ${second.path}`;
        const known = longest.get(key);
        if (!known || length > known.length) {
          const end = (p: Place) => linesOf.get(p.path)?.[p.index + length - 1]?.line ?? p.to;
          const detail = `${first.path}:${first.from}-${end(first)} ~ ${second.path}:${second.from}-${end(second)} (${length} lines alike)`;
          longest.set(key, { length, detail });
        }
      }
    }
  }
  return [...longest.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, { detail }]) => ({ key, detail }));
}

/** How far two runs that agree at their starts keep agreeing. */
function extend(
  a: readonly { text: string }[],
  from: number,
  b: readonly { text: string }[],
  start: number,
): number {
  let length = 0;
  while (a[from + length] && a[from + length]?.text === b[start + length]?.text) length++;
  return length;
}

export interface Verdict {
  /** Offenders with no exception: the code must change (or an exception be argued for). */
  readonly unexcused: string[];
  /** Exceptions that excuse nothing any more: the entry must go, so the list stays honest. */
  readonly stale: string[];
}

/** Offenders match an exception by key; an exception no offender uses is stale. */
export function judge(offenders: readonly Offender[], exceptions: Readonly<Record<string, string>>): Verdict {
  const used = new Set<string>();
  const unexcused: string[] = [];
  for (const offender of offenders) {
    if (Object.hasOwn(exceptions, offender.key)) used.add(offender.key);
    else unexcused.push(`${offender.key}: ${offender.detail}`);
  }
  const stale = Object.keys(exceptions).filter((key) => !used.has(key));
  return { unexcused, stale };
}
