import { InvalidArgumentError } from 'commander';
import { type DeadLetterFilter, FilterError, parseFilter } from './operations/dead-letters.ts';

/** Option value parsers: a bad value is a commander usage error (exit 1) naming the option. */
export const positiveInt = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return parsed;
};

export const seconds = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError(`${name} must be a number of seconds ≥ 0`);
  return parsed;
};

export const percent = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > 100)
    throw new InvalidArgumentError(`${name} must be a percentage from 0 to 100`);
  return parsed;
};

/** `--filter` is repeatable: each one is parsed as it comes, so a bad one is named. */
export const collectFilters = (value: string, previous: DeadLetterFilter[]) => {
  try {
    return [...previous, parseFilter(value)];
  } catch (error) {
    if (!(error instanceof FilterError)) throw error;
    throw new InvalidArgumentError(error.message);
  }
};
