import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The README is a map and a summary; the reference lives in docs/. A moved section must not leave a
 * link pointing at nothing, and a new top-level folder must not be missing from the map.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = join(ROOT, 'docs');
const PAGES = [
  'README.md',
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
/** Folders that are installed, built or local state, never part of the layout. */
const NOT_LAYOUT = new Set(['node_modules', 'dist', 'cdk.out', 'coverage']);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replaceAll(' ', '-');
}

function headingsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (heading?.[1] !== undefined && !fenced) anchors.add(anchorOf(heading[1]));
  }
  return anchors;
}

/** Every relative link of a page that names no existing file, or no heading of the page it names. */
function brokenLinks(page: string): string[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const broken: string[] = [];
  for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (!link || /^[a-z]+:/.test(link)) continue;
    const [path = '', anchor] = link.split('#');
    const target = path ? normalize(join(dirname(join(ROOT, page)), path)) : join(ROOT, page);
    if (!existsSync(target)) broken.push(`${page}: ${link} (no file ${relative(ROOT, target)})`);
    else if (anchor && target.endsWith('.md') && !headingsOf(readFileSync(target, 'utf8')).has(anchor)) {
      broken.push(`${page}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
    }
  }
  return broken;
}

describe('README and docs/', () => {
  it('derives anchors as GitHub does', () => {
    expect(anchorOf('Operations: the `typesense-sync` CLI')).toBe('operations-the-typesense-sync-cli');
    expect(anchorOf('Full re-sync (zero downtime)')).toBe('full-re-sync-zero-downtime');
  });

  it('has docs pages to link to', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['docs/operations.md', 'docs/testing.md', 'docs/atlas.md']));
  });

  it('has no relative link to a missing file or heading', () => {
    expect(PAGES.flatMap(brokenLinks)).toEqual([]);
  });

  it("names every top-level folder in the README's map", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const map = /## Where things live\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !NOT_LAYOUT.has(entry.name))
      .map((entry) => entry.name);
    expect(folders.length).toBeGreaterThan(5);
    expect(folders.filter((name) => !new RegExp(`(^|[\\s,])${name}/`, 'm').test(map))).toEqual([]);
  });
});
