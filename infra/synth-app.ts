import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';

/** The app's context in cdk.json (the feature flags among it), which `cdk synth` reads and `new App()` does not. */
export const CDK_JSON_CONTEXT = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8'))
  .context as Record<string, unknown>;

/**
 * An app that skips bundling, with the context `cdk synth` gives the real app (cdk.json), so its
 * templates are the ones deployed. Shared by the infra tests and the embedded stack's IAM check, so
 * both read the same synthesized policies.
 */
export function appWithoutBundling(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, ...context, 'aws:cdk:bundling-stacks': [] } });
}
