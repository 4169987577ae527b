import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type PreviewRules, previewGivenItem } from '../../bin/cli/operations/preview.ts';
import { loadTransform, TransformLoadError } from '../../bin/cli/operations/transform.ts';
import { renderPreview, wouldDeadLetter } from '../../bin/cli/render/preview.ts';
import { OperatorError } from '../../functions/core/errors.ts';

/* The CLI's view of the app's transform: loaded from the target's module path; `preview` applies it. */

const MODULE = fileURLToPath(new URL('../fixtures/transforms/title-lower.ts', import.meta.url));

describe("loadTransform: the target's transform module", () => {
  it('imports the named export (default: transform); none without a transform in the target', async () => {
    const transform = await loadTransform({ module: MODULE });
    expect(transform?.({ id: 'a', title: 'Hi' }, { id: 'a', key: {}, item: {} })).toEqual({
      id: 'a',
      title: 'Hi',
      title_lower: 'hi',
    });
    expect(await loadTransform(undefined)).toBeUndefined();
  });

  it('names a module that cannot be imported, with the hint for TypeScript', async () => {
    const error = await loadTransform({ module: '/nowhere/transform.ts' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransformLoadError);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toMatch(
      /^cannot load the target's transform module \/nowhere\/transform.ts: .*\(a TypeScript module needs the CLI run with tsx/,
    );
  });

  it('names an export that is not a function, and what the module exports', async () => {
    await expect(loadTransform({ module: MODULE, exportName: 'notAFunction' })).rejects.toThrow(
      /has no function export 'notAFunction' \(it exports: [^)]*notAFunction[^)]*\)/,
    );
    await expect(loadTransform({ module: MODULE, exportName: 'missing' })).rejects.toThrow(
      /has no function export 'missing'/,
    );
  });
});

describe('preview with a transform', () => {
  const rules = async (): Promise<PreviewRules> => ({
    keyAttributes: ['pk'],
    projection: { filter: { attribute: 'kind', equals: 'post' } },
    transform: (await loadTransform({ module: MODULE })) as NonNullable<PreviewRules['transform']>,
    index: 'posts',
  });
  const item = (title: string, status = 'published', kind = 'post') => ({
    pk: { S: 'p1' },
    kind: { S: kind },
    title: { S: title },
    status: { S: status },
  });

  it("shows the transform's document", async () => {
    const [preview] = previewGivenItem(item('Hello'), await rules(), 'file x').indexes;
    expect(preview).toMatchObject({ outcome: 'indexed', document: { id: 'p1', title_lower: 'hello' } });
  });

  it('tells an item the transform leaves out from one the filter leaves out', async () => {
    const byTransform = previewGivenItem(item('Hello', 'draft'), await rules(), 'file x');
    expect(byTransform.indexes[0]?.outcome).toBe('left-out-by-transform');
    expect(renderPreview(byTransform)).toContain('not indexed — the transform answers null');
    const byFilter = previewGivenItem(item('Hello', 'draft', 'page'), await rules(), 'file x');
    expect(byFilter.indexes[0]?.outcome).toBe('filtered-out');
  });

  it('would dead-letter an item the transform throws for, with transform-error and the message', async () => {
    const report = previewGivenItem(item('boom'), await rules(), 'file x');
    expect(report.indexes[0]).toMatchObject({
      outcome: 'dead-lettered',
      reason: 'transform-error: transform threw: cannot lower-case boom',
    });
    expect(wouldDeadLetter(report)).toBe(true);
  });
});
