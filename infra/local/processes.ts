import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { sleep } from '../../functions/shared/aws.ts';

/** A free TCP port on loopback, chosen by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

const children = new Set<ChildProcess>();

/** Children registered here are killed when this process exits for any reason: no orphans. */
export function ownChild(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills every registered child at once (synchronously): the last resort before exiting. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

process.once('exit', killChildren);

/**
 * Ctrl-C / SIGTERM: the first runs `graceful` (bounded by `graceMs`), a second one or the deadline
 * forces. Either way children are killed before exiting, since a process ended by a signal's
 * default action never runs its 'exit' handlers.
 */
export function exitOnSignals(graceful: () => Promise<void>, graceMs = 10_000): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signalled) {
      killChildren();
      process.exit(code);
    }
    signalled = true;
    const force = setTimeout(() => {
      killChildren();
      process.exit(code);
    }, graceMs);
    void graceful().finally(() => {
      clearTimeout(force);
      process.exit(code);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Polls `check` until it resolves true or `timeoutMs` passes; then throws with `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The project's one sleep, re-exported for the local tools that import it from here. */
export { sleep };
