import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  duplicateBlocks,
  judge,
  longFiles,
  longFunctions,
  meaningfulLines,
  readSourceFiles,
  type SourceFile,
} from '../helpers/code-shape.ts';
import { DUPLICATE_EXCEPTIONS, FILE_EXCEPTIONS, FUNCTION_EXCEPTIONS } from './code-shape.exceptions.ts';

/**
 * Issue 22's "done when": no source file over ≈500 lines, no function over ≈80 lines and no block of
 * six or more lines written twice outside test/ and generated data, except the reasoned entries of
 * code-shape.exceptions.ts — and no entry there that excuses nothing any more.
 *
 * Duplicates are found here, not by the `duplicates` command some workplaces have: CI machines
 * (.ci/run, GitHub Actions) lack it, and a rule only some machines check is no rule. The check is the
 * simple one: six meaningful lines in a row, the same after folding white space.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const lines = (count: number, make: (n: number) => string): string =>
  Array.from({ length: count }, (_, n) => make(n)).join('\n');
const fn = (name: string, bodyLines: number): string =>
  `function ${name}() {\n${lines(bodyLines, (n) => `  call${n}();`)}\n}\n`;

describe('the shape measures', () => {
  it('counts a file of 501 lines as long and one of 500 as not', () => {
    const files: SourceFile[] = [
      { path: 'a.ts', text: `${lines(500, (n) => `x${n};`)}\n` },
      { path: 'b.ts', text: `${lines(501, (n) => `x${n};`)}\n` },
    ];
    expect(longFiles(files)).toEqual([{ key: 'b.ts', detail: '501 lines' }]);
  });

  it('counts a function from its first to its last line, at 81 lines long and at 80 not', () => {
    const text = `${fn('fits', 78)}${fn('tooLong', 79)}`;
    expect(longFunctions([{ path: 'f.ts', text }])).toEqual([
      { key: 'f.ts#tooLong', detail: '81 lines from line 81' },
    ]);
  });

  it('names methods, constructors, arrow functions with a block body, and nested functions', () => {
    const body = lines(80, (n) => `    step${n}();`);
    const text = [
      'class Sync {',
      `  constructor() {\n${body}\n  }`,
      `  build() {\n${body}\n  }`,
      '}',
      `const handler = async () => {\n${body}\n};`,
      `const table = { render: function () {\n${body}\n} };`,
      `export function outer() {\n  const inner = () => {\n${body}\n  };\n  return inner;\n}`,
      `run(() => {\n${body}\n});`,
    ].join('\n');
    expect(longFunctions([{ path: 'm.ts', text }]).map((o) => o.key)).toEqual([
      'm.ts#Sync.constructor',
      'm.ts#Sync.build',
      'm.ts#handler',
      'm.ts#render',
      'm.ts#outer',
      'm.ts#outer>inner',
      'm.ts#(anonymous)',
    ]);
  });

  it('leaves out an arrow function whose body is an expression, however long', () => {
    const text = `const total = (xs: number[]) =>\n${lines(90, () => '  xs.length +')}\n  0;\n`;
    expect(longFunctions([{ path: 'e.ts', text }])).toEqual([]);
  });

  it('keeps only meaningful lines: no blanks, comments, imports or punctuation-only lines', () => {
    const text = [
      "import { a } from './a.ts';",
      'import {',
      '  b,',
      '  c,',
      "} from './b.ts';",
      '/**',
      ' * why',
      ' */',
      '',
      '// note',
      'if (a) {',
      '    b(  c );',
      '}',
      '});',
    ].join('\n');
    expect(meaningfulLines(text)).toEqual([
      { line: 11, text: 'if (a) {' },
      { line: 12, text: 'b( c );' },
    ]);
  });

  it('finds six lines alike in two files whatever their indentation and blank lines, and not five', () => {
    const six = lines(6, (n) => `total += weigh(item${n});`);
    const files: SourceFile[] = [
      { path: 'a.ts', text: `first();\n${six}\nlast();\n` },
      { path: 'b.ts', text: `other();\n\n${six.replaceAll('\n', '\n\n    ')}\n}\n` },
      { path: 'c.ts', text: lines(5, (n) => `total += weigh(item${n});`) },
    ];
    expect(duplicateBlocks(files)).toEqual([
      { key: 'a.ts ~ b.ts', detail: 'a.ts:2-7 ~ b.ts:3-13 (6 lines alike)' },
    ]);
  });

  it('finds a block repeated within one file, but not a run overlapping itself', () => {
    const block = lines(6, (n) => `send(batch${n});`);
    const repeated = lines(8, () => 'tick();');
    expect(duplicateBlocks([{ path: 'r.ts', text: `${block}\nmiddle();\n${block}\n` }])).toEqual([
      { key: 'r.ts ~ r.ts', detail: 'r.ts:1-6 ~ r.ts:8-13 (6 lines alike)' },
    ]);
    expect(duplicateBlocks([{ path: 'o.ts', text: repeated }])).toEqual([]);
  });

  it('reports offenders without an exception and exceptions that excuse nothing', () => {
    const offenders = [
      { key: 'a.ts', detail: '600 lines' },
      { key: 'b.ts', detail: '501 lines' },
    ];
    expect(judge(offenders, { 'a.ts': 'being split', 'gone.ts': 'was split' })).toEqual({
      unexcused: ['b.ts: 501 lines'],
      stale: ['gone.ts'],
    });
  });
});

describe('the repository keeps its shape (outside test/ and generated data)', () => {
  const files = readSourceFiles(ROOT);

  it('reads the source folders', () => {
    const paths = files.map((f) => f.path);
    expect(paths).toContain('lib/index.ts');
    expect(paths).toContain('scripts/build.mjs');
    expect(paths.some((p) => p.startsWith('functions/'))).toBe(true);
    expect(paths.some((p) => /(^|\/)(node_modules|dist|cdk\.out|\.local)\/|^test\//.test(p))).toBe(false);
  });

  it('has no file over 500 lines but the listed exceptions, and no stale exception', () => {
    expect(judge(longFiles(files), FILE_EXCEPTIONS)).toEqual({ unexcused: [], stale: [] });
  });

  it('has no function over 80 lines but the listed exceptions, and no stale exception', () => {
    expect(judge(longFunctions(files), FUNCTION_EXCEPTIONS)).toEqual({ unexcused: [], stale: [] });
  });

  it('has no block of six lines or more written twice but the listed exceptions, and no stale one', () => {
    expect(judge(duplicateBlocks(files), DUPLICATE_EXCEPTIONS)).toEqual({ unexcused: [], stale: [] });
  });
});
