import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The LocalStack suite's own config, run by infra/localstack/run.ts once the stack is deployed; the
 * root config excludes test/localstack/, so `npm test` never picks it up.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../../', import.meta.url)),
    include: ['test/localstack/**/*.test.ts', 'test/contract/**/*.test.ts'],
    // Lambda containers start cold and LocalStack's pollers add seconds per hop.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One deployed pipeline: the scenarios run one after another.
    maxWorkers: 1,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // LocalStack accepts any credentials; the SDK's default chain (lag endpoint signing) needs some.
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    },
  },
});
