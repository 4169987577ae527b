import { describe, expect, it } from 'vitest';
import {
  isRetryableAnswer,
  isRetryableError,
  isRetryableLine,
  isRetryableStatus,
} from '../../functions/core/classify.ts';
import { equalJitter } from '../../functions/core/retry.ts';
import {
  TypesenseHttpError,
  TypesenseProtocolError,
  TypesenseUnavailableError,
} from '../../functions/shared/typesense.ts';

describe('the one retryable rule (writer, re-sync and client)', () => {
  it('retries 408, 429 and 5xx; every other status fails the same way next time', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 413, 422].some(isRetryableStatus)).toBe(false);
  });

  it('retries the 422s of a node that cannot take writes for now, not those of a bad document', () => {
    expect(isRetryableAnswer(422, 'Rejecting write: running out of resource type: OUT_OF_DISK')).toBe(true);
    expect(isRetryableAnswer(422, 'Skipping writes.')).toBe(true);
    expect(isRetryableAnswer(422, 'Skipping write.')).toBe(true);
    expect(isRetryableAnswer(422, 'Field `price` must be a float.')).toBe(false);
  });

  it('applies the rule to import answer lines: a success is never retried', () => {
    expect(isRetryableLine({ success: true })).toBe(false);
    expect(isRetryableLine({ success: false, code: 503, error: 'Not Ready or Lagging' })).toBe(true);
    expect(isRetryableLine({ success: false, code: 409, error: 'already exists' })).toBe(false);
  });

  it("applies the same rule to the client's errors, and to nothing else", () => {
    expect(isRetryableError(new TypesenseHttpError(503, 'Not Ready or Lagging', 'POST', '/x'))).toBe(true);
    expect(isRetryableError(new TypesenseHttpError(422, 'Skipping writes.', 'POST', '/x'))).toBe(true);
    expect(isRetryableError(new TypesenseHttpError(400, 'Bad JSON.', 'POST', '/x'))).toBe(false);
    expect(isRetryableError(new TypesenseUnavailableError('no answer'))).toBe(true);
    expect(isRetryableError(new TypesenseProtocolError('not JSON'))).toBe(false);
    expect(isRetryableError(new Error('boom'))).toBe(false);
    expect(isRetryableError(undefined)).toBe(false);
    expect(isRetryableError(null)).toBe(false);
  });
});

describe('equalJitter', () => {
  it('keeps half the step fixed and scales the other half', () => {
    expect(equalJitter(10, 0)).toBe(5);
    expect(equalJitter(10, 1)).toBe(10);
    expect(equalJitter(200, 0.5)).toBe(150);
  });
});
