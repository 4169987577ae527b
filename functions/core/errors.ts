/** A stream record that cannot be turned into a change; carries what the operator needs to find it. */
export class RecordError extends Error {
  override name = 'RecordError';
  constructor(
    message: string,
    readonly sequenceNumber: string | undefined,
  ) {
    super(message);
  }
}

/** An item that cannot be turned into a Typesense document (bad key, projection failure). */
export class ProjectionError extends Error {
  override name = 'ProjectionError';
  constructor(
    message: string,
    readonly id: string,
  ) {
    super(message);
  }
}

/** A queue message whose body is not a change message we understand. */
export class MessageFormatError extends Error {
  override name = 'MessageFormatError';
}
