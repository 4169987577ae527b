import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Target } from '../../../functions/contract/target.ts';
import { OperatorError } from '../../../functions/core/errors.ts';
import type { Transform } from '../../../functions/core/transform.ts';

/** The target's transform module cannot be imported, or has no such function export. */
export class TransformLoadError extends OperatorError {
  override name = 'TransformLoadError';
}

/**
 * The app's transform named by the target (`transform: { module, exportName }`), imported so that `verify`
 * and `preview` build documents as the writer does; undefined when the target has none. A relative path is
 * the working directory's. A `.ts` module needs a CLI that runs TypeScript (the repository's runs on tsx).
 */
export async function loadTransform(spec: Target['transform']): Promise<Transform | undefined> {
  if (spec === undefined) return undefined;
  const path = resolve(spec.module);
  const exportName = spec.exportName ?? 'transform';
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const hint = /\.[mc]?ts$/.test(path)
      ? ' (a TypeScript module needs the CLI run with tsx or a Node that strips types; or give its compiled .js)'
      : '';
    throw new TransformLoadError(
      `cannot load the target's transform module ${path}: ${(error as Error).message}${hint}`,
    );
  }
  const transform = module[exportName];
  if (typeof transform !== 'function')
    throw new TransformLoadError(
      `the target's transform module ${path} has no function export '${exportName}' (it exports: ${Object.keys(module).join(', ') || 'nothing'})`,
    );
  return transform as Transform;
}
