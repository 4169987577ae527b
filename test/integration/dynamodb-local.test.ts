import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.ts';
import { freePort } from '../../infra/local/processes.ts';

describe('startDynamoDbLocal', () => {
  let blocker: Server;
  let takenPort: number;

  beforeAll(async () => {
    // Holds the port and hangs up on anyone who connects.
    blocker = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    takenPort = (blocker.address() as { port: number }).port;
  });

  afterAll(() => new Promise((resolve) => blocker.close(resolve)));

  it('starts again on another port when a port it chose is taken before Java binds it', async () => {
    const chosen: number[] = [];
    const local = await startDynamoDbLocal(undefined, async () => {
      const port = chosen.length === 0 ? takenPort : await freePort();
      chosen.push(port);
      return port;
    });
    try {
      expect(chosen).toHaveLength(2);
      expect(local.endpoint).toBe(`http://127.0.0.1:${chosen[1]}`);
    } finally {
      await local.stop();
    }
  });

  it('fails at once, naming the port, when DynamoDB Local cannot start', async () => {
    // The exit is reported as such, not as the 60 s readiness timeout ("timed out … waiting").
    await expect(startDynamoDbLocal(takenPort)).rejects.toThrow(
      new RegExp(`DynamoDB Local exited during start-up .*port ${takenPort}`),
    );
  });
});
