import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SyncError } from '../../../functions/core/errors.ts';
import { ownChild } from '../processes.ts';
import type { TypesenseEmulator, TypesenseEmulatorOptions } from './server.ts';
import { DEFAULT_TYPESENSE_VERSION } from './versions.ts';

/** The emulator in a child process: a server only, without the in-process fault controls and stats. */
export type TypesenseEmulatorProcess = Pick<TypesenseEmulator, 'url' | 'port' | 'stop' | 'version'>;

/** Thrown when the emulator's child process ends before it is listening. */
export class TypesenseEmulatorProcessError extends SyncError {
  override name = 'TypesenseEmulatorProcessError';
}

/**
 * Starts the emulator in a child process (`typesense-emulator-main.ts`), so that it has an event loop
 * and a CPU thread of its own, as a real Typesense server does, instead of taking turns with the
 * caller's work. The child is killed when this process exits.
 */
export async function startTypesenseEmulatorProcess(
  opts: TypesenseEmulatorOptions,
): Promise<TypesenseEmulatorProcess> {
  const main = fileURLToPath(new URL('../typesense-emulator-main.ts', import.meta.url));
  const args = [
    '--api-key',
    opts.apiKey,
    '--port',
    String(opts.port ?? 0),
    '--host',
    opts.host ?? '127.0.0.1',
    '--typesense-version',
    String(opts.version ?? DEFAULT_TYPESENSE_VERSION),
  ];
  // stdin is a pipe the child watches: it exits when this process dies without stopping it.
  const child = ownChild(
    spawn(process.execPath, ['--import', 'tsx', main, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const newline = output.indexOf('\n');
      if (newline >= 0) resolve(output.slice(0, newline));
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(
        new TypesenseEmulatorProcessError(
          `the Typesense emulator process exited during start-up (code ${code}); is port ${opts.port ?? 0} free?`,
        ),
      ),
    );
  });
  return {
    url,
    port: Number(new URL(url).port),
    version: opts.version ?? DEFAULT_TYPESENSE_VERSION,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
