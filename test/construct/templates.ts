import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { LOCALSTACK_CONTEXT } from '../../infra/localstack/deploy.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { atlasIndexesStack, defaultStack, ENV, fullyFeaturedStack, twoIndexStack } from './stacks.ts';

/**
 * The stacks the external validators check, by name: the default stack, the one with every option
 * on, the app as the LocalStack suite deploys it (composite keys), a table with two routed indexes, and an Atlas source with two routed indexes. Bundling is skipped: the
 * validators read templates only.
 */
export function validatedStacks(): Record<string, Stack> {
  const localstack = new App({ context: { ...LOCALSTACK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  return {
    Default: defaultStack(),
    FullyFeatured: fullyFeaturedStack().stack,
    LocalStack: new TypesenseSyncStack(localstack, 'LocalStack', { env: ENV }),
    TwoIndexes: twoIndexStack().stack,
    AtlasIndexes: atlasIndexesStack().stack,
  };
}

/** Each stack's synthesized template written to a temporary directory: stack name → file. */
export async function writeTemplates(): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'typesense-sync-templates-'));
  const files = new Map<string, string>();
  for (const [name, stack] of Object.entries(validatedStacks())) {
    const template = (stack.node.root as App).synth().getStackByName(stack.stackName).template as unknown;
    const file = join(dir, `${name}.template.json`);
    await writeFile(file, JSON.stringify(template, null, 1));
    files.set(name, file);
  }
  return files;
}
