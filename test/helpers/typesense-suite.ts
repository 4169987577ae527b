import { afterAll, beforeAll } from 'vitest';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';

export interface TypesenseSuite {
  readonly emulator: TypesenseEmulator;
  /** A client on the emulator, with its API key. */
  readonly typesense: TypesenseClient;
}

/**
 * One in-process Typesense emulator for a test file: started before its tests, stopped after them. Its
 * members are readable inside tests and hooks (they are set by the file's first `beforeAll`).
 */
export function typesenseSuite(apiKey: string): TypesenseSuite {
  let started: TypesenseSuite | undefined;
  beforeAll(async () => {
    const emulator = await startTypesenseEmulator({ apiKey });
    started = { emulator, typesense: new TypesenseClient({ nodes: [emulator.url], apiKey }) };
  });
  afterAll(async () => {
    await started?.emulator.stop();
  });
  const running = () => {
    if (started === undefined) throw new Error('the Typesense emulator is read before its beforeAll ran');
    return started;
  };
  return {
    get emulator() {
      return running().emulator;
    },
    get typesense() {
      return running().typesense;
    },
  };
}
