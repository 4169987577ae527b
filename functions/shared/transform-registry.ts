import { SyncError } from '../core/errors.ts';
import type { Transform } from '../core/transform.ts';

/**
 * Where a deployed function finds the app's transform module: a global slot the function's generated
 * entry (lib/transform-entry.ts) fills before the first invocation builds the handler. A global, not a
 * module variable: an installed package's handler is a prebuilt bundle with its own copy of every module,
 * which the generated entry can only import whole.
 */
export const TRANSFORM_SLOT = 'typesense-sync.transform';

/** The function's transform slot holds something that is not a function: the entry was built wrong. */
export class TransformModuleError extends SyncError {
  override name = 'TransformModuleError';
}

/** The transform the function's entry registered, if any. */
export function registeredTransform(): Transform | undefined {
  const value: unknown = (globalThis as Record<symbol, unknown>)[Symbol.for(TRANSFORM_SLOT)];
  if (value === undefined) return undefined;
  if (typeof value !== 'function')
    throw new TransformModuleError(`the registered transform is a ${typeof value}, not a function`);
  return value as Transform;
}
