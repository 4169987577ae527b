import { afterAll, beforeAll, describe, it } from 'vitest';
import { z } from 'zod';
import { openBackend, type SyncBackend } from '../scenarios/backend.ts';
import { SCENARIOS } from '../scenarios/scenarios.ts';

/**
 * The shared scenarios against the real CDK app deployed to LocalStack, through its real event
 * source mappings. Run only by `npm run test:localstack` (infra/localstack/run.ts), which deploys the
 * stack and passes the host's operator target file.
 */
const env = z
  .object({
    /** The host's operator target file the runner wrote. */
    LOCALSTACK_TARGET: z.string().min(1).optional(),
    /** How long one condition may take: Lambda containers start cold, each hop polls. */
    LOCALSTACK_SCENARIO_TIMEOUT_MS: z.coerce.number().int().positive().default(180_000),
  })
  .parse(process.env);
const timeoutMs = env.LOCALSTACK_SCENARIO_TIMEOUT_MS;

let backend: SyncBackend & { close(): void };

beforeAll(async () => {
  if (env.LOCALSTACK_TARGET === undefined)
    throw new Error(
      'test/localstack needs a deployed stack: run it with `npm run test:localstack` (LOCALSTACK_TARGET is not set)',
    );
  backend = await openBackend({ name: 'localstack', targetFile: env.LOCALSTACK_TARGET, timeoutMs });
});

afterAll(() => {
  backend?.close();
});

describe('shared scenarios on the CDK app deployed to LocalStack', () => {
  for (const scenario of SCENARIOS) it(scenario.name, () => scenario.run(backend), 4 * timeoutMs);
});
