import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  // `import 'typesense-sync'` in the tests resolves to lib/ sources, not to the built dist/ (package.json exports).
  resolve: {
    alias: [
      { find: /^typesense-sync$/, replacement: fileURLToPath(new URL('lib/index.ts', import.meta.url)) },
      {
        find: /^typesense-sync\/read-your-writes$/,
        replacement: fileURLToPath(new URL('lib/read-your-writes.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // test/localstack/ needs a stack deployed to LocalStack: `npm run test:localstack` runs it.
    exclude: [...configDefaults.exclude, 'test/localstack/**'],
    // Integration suites start Java (DynamoDB Local) and HTTP servers: give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Local runs use Node 20; the deployed functions run Node 22, where the SDK has nothing to warn about.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.local/test-results.json' },
  },
});
