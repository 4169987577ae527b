import { vi } from 'vitest';

/** The part of an EMF record these tests read; metric values sit at the top level under their names. */
export interface EmfRecord {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [field: string]: unknown;
}

export const parsed = (text: unknown): unknown => {
  try {
    return JSON.parse(String(text));
  } catch {
    return undefined;
  }
};

/**
 * Powertools' documented test mode: with POWERTOOLS_DEV it writes through the global console
 * (POWERTOOLS_METRICS_DISABLED=false keeps it emitting), so the EMF lines are console.log calls.
 */
export function captureEmf() {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
  const records = () =>
    log.mock.calls.flatMap(([line]) => {
      const record = parsed(line);
      return typeof record === 'object' && record !== null && '_aws' in record ? [record as EmfRecord] : [];
    });
  return { records, warn, info };
}

export const definitionsOf = (record: EmfRecord) => record._aws.CloudWatchMetrics[0]?.Metrics ?? [];
/** A metric's values across records: EMF holds one value as a number, several as an array. */
export const valuesOf = (records: EmfRecord[], name: string) =>
  records.flatMap((record) => (name in record ? [record[name] as number | number[]].flat() : []));
