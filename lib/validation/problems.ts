import { type Duration, Token } from 'aws-cdk-lib';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/** An inclusive integer range, as [min, max]. */
export type Range = readonly [number, number];

/** True when none of `values` is a CDK token (whose value is only known at deploy). */
export const resolved = (...values: number[]) => values.every((value) => !Token.isUnresolved(value));

/**
 * The problems found in a construct's props, collected so that one error can report every one of them at
 * once (one per line), each naming the prop and what is wrong. Tokens are not checked: their values are
 * only known at deploy.
 */
export class Problems {
  private readonly found: string[] = [];

  constructor(private readonly construct: string) {}

  /** A problem with the props, reported as `<construct>: <message>`. */
  add(message: string): void {
    this.found.push(`${this.construct}: ${message}`);
  }

  /** Problems another check already worded (e.g. the Atlas source's own). */
  addWorded(messages: readonly string[]): void {
    this.found.push(...messages);
  }

  get count(): number {
    return this.found.length;
  }

  /** Throws one error listing every problem, one per line; nothing when there is none. */
  throwIfAny(): void {
    if (this.found.length > 0) throw new Error(this.found.join('\n'));
  }

  /** Whether `value` is an integer within `range` (or a token); a problem is recorded when not. */
  intRange(name: string, value: number, [min, max]: Range): boolean {
    if (Token.isUnresolved(value)) return true;
    if (Number.isInteger(value) && value >= min && value <= max) return true;
    this.add(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    return false;
  }

  /**
   * A Duration in whole `unit`s within [min, max]; undefined stays undefined and tokens are returned
   * unchecked. Undefined, with a problem recorded, when it is not.
   */
  wholeUnits(
    name: string,
    duration: Duration | undefined,
    unit: 'seconds' | 'minutes' | 'hours' | 'days',
    [min, max]: Range,
  ): number | undefined {
    if (duration === undefined) return undefined;
    const value =
      unit === 'seconds'
        ? duration.toSeconds({ integral: false })
        : unit === 'minutes'
          ? duration.toMinutes({ integral: false })
          : unit === 'hours'
            ? duration.toHours({ integral: false })
            : duration.toDays({ integral: false });
    if (Token.isUnresolved(value)) return value;
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    this.add(
      `${name} must be a whole number of ${unit} from ${min} to ${max}, got ${duration.toHumanString()}`,
    );
    return undefined;
  }

  /**
   * A function's reserved concurrency against the maximum concurrency of its queue's event source: fewer
   * reserved executions would throttle batches back to the queue, where each return counts as a receive
   * towards the DLQ.
   */
  concurrency(name: string, reserved: number | undefined, maxConcurrency: number | undefined): void {
    if (reserved === undefined) return;
    if (!this.intRange(`${name}.reservedConcurrentExecutions`, reserved, RESERVED_CONCURRENCY_RANGE)) return;
    if (maxConcurrency !== undefined && resolved(reserved, maxConcurrency) && reserved < maxConcurrency) {
      this.add(
        `${name}.reservedConcurrentExecutions (${reserved}) must be at least ${name}.maxConcurrency ` +
          `(${maxConcurrency}), or batches are throttled back to the queue and counted towards the DLQ`,
      );
    }
  }

  /** Queue prop overrides that would break what every queue of the sync relies on. */
  queueOverrides(name: string, overrides: Partial<sqs.QueueProps>): void {
    if (overrides.fifo === false) {
      this.add(
        `${name}.fifo must not be false: per-key order needs FIFO queues, and a FIFO queue a FIFO DLQ`,
      );
    }
    if (overrides.deadLetterQueue !== undefined) {
      this.add(
        `${name}.deadLetterQueue is not supported: the construct wires its own DLQ (deadLetterQueueProps, maxReceiveCount)`,
      );
    }
    if (overrides.encryption !== undefined || overrides.encryptionMasterKey !== undefined) {
      this.add(
        `${name}.encryption is not supported: pass encryptionKey, which encrypts every queue and created table`,
      );
    }
    if (overrides.enforceSSL === false) {
      this.add(`${name}.enforceSSL must not be false: the queues deny requests without TLS`);
    }
  }

  /** CloudWatch's rule for namespaces; `AWS/` is reserved for AWS services. */
  metricsNamespace(namespace: string): void {
    if (Token.isUnresolved(namespace)) return;
    if (
      !/^[0-9A-Za-z.\-_/#: ]{1,255}$/.test(namespace) ||
      namespace.trim() === '' ||
      namespace.startsWith('AWS/')
    ) {
      this.add(
        `metricsNamespace must be 1 to 255 of the characters 0-9A-Za-z.-_/#: and space, not starting with AWS/, got ${JSON.stringify(namespace)}`,
      );
    }
  }
}

/** The limit of reserved concurrency the construct accepts; the account's quota may be lower. */
export const RESERVED_CONCURRENCY_RANGE = [1, 100_000] as const;
/** The SQS event source's maximum concurrency range. */
export const EVENT_SOURCE_CONCURRENCY_RANGE = [2, 1_000] as const;

/** The interval of a `rate(…)` schedule expression in seconds; undefined for cron and at expressions. */
export function rateSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (match === null) return undefined;
  const unitSeconds = { minute: 60, hour: 3_600, day: 86_400 }[match[2] as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unitSeconds;
}
