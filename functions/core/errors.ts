/**
 * The base of every typesense-sync error: `instanceof SyncError` tells the project's own failures from
 * the SDKs' and the runtime's. Each subclass sets `name` itself (a field, not the class's name, which a
 * minified bundle renames); `cause` keeps the error it wraps.
 */
export class SyncError extends Error {
  override name = 'SyncError';
}

/**
 * An error whose message alone tells an operator what is wrong and what to do (a bad target or
 * filter, a re-sync in the way): the CLI prints its message as one line, without class name or stack.
 */
export class OperatorError extends SyncError {
  override name = 'OperatorError';
}

/** A stream record that cannot be turned into a change; carries what the operator needs to find it. */
export class RecordError extends SyncError {
  override name = 'RecordError';
  constructor(
    message: string,
    readonly sequenceNumber: string | undefined,
  ) {
    super(message);
  }
}

/** An item that cannot be turned into a Typesense document (bad key, projection failure). */
export class ProjectionError extends SyncError {
  override name = 'ProjectionError';
  /** The reason code of its dead letter, and of its line in `verify`, redrive and `preview`. */
  readonly code: string = 'projection';
  constructor(
    message: string,
    readonly id: string,
  ) {
    super(message);
  }
}

/** A queue message whose body is not a change message we understand. */
export class MessageFormatError extends SyncError {
  override name = 'MessageFormatError';
}

/**
 * The app's transform module threw or returned something that is not a document (functions/core/transform.ts).
 * A ProjectionError, so every caller that refuses an unprojectable item refuses it too; the writer
 * dead-letters it with the reason `transform-error`.
 */
export class TransformError extends ProjectionError {
  override name = 'TransformError';
  override readonly code = 'transform-error';
}
