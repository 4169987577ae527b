import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../functions/shared/logger.ts';

/** The service of the one JSON line the logger writes. */
function serviceOfLine(log: () => void): unknown {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    log();
  } finally {
    spy.mockRestore();
  }
  const line = lines.find((text) => text.includes('"message":"hello"'));
  return (JSON.parse(line ?? '{}') as { service?: unknown }).service;
}

afterEach(() => vi.restoreAllMocks());

describe('createLogger', () => {
  it("logs under the deployment's POWERTOOLS_SERVICE_NAME, so two syncs in one account log apart", () => {
    const logger = createLogger('writer', { POWERTOOLS_SERVICE_NAME: 'Stack-SyncA-writer' });
    expect(serviceOfLine(() => logger.info('hello'))).toBe('Stack-SyncA-writer');
  });

  it('logs at the level it is given, whatever the environment says (the embedded stack passes one)', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    try {
      expect(serviceOfLine(() => createLogger('writer', {}, 'ERROR').info('hello'))).toBeUndefined();
      expect(serviceOfLine(() => createLogger('writer', {}).info('hello'))).toBe('typesense-sync-writer');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('falls back to the role where the variable is unset or empty', () => {
    expect(serviceOfLine(() => createLogger('batcher', {}).info('hello'))).toBe('typesense-sync-batcher');
    expect(serviceOfLine(() => createLogger('batcher', { POWERTOOLS_SERVICE_NAME: '' }).info('hello'))).toBe(
      'typesense-sync-batcher',
    );
  });
});
