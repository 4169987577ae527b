import { Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { SynthesisMessage } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { TypesenseSync } from '../../lib/typesense-sync.ts';
import {
  appWithoutBundling,
  atlasIndexesStack,
  defaultStack,
  ENV,
  fullyFeaturedStack,
  twoIndexStack,
} from './stacks.ts';

/** A sync with the alarms topic it creates (no key: unencrypted) and a public ingestion-delay endpoint. */
function createdTopicStack(): Stack {
  const stack = new Stack(appWithoutBundling(), 'CreatedTopic', { env: ENV });
  new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
      collection: 'products',
    },
    alarms: { createTopic: true },
    ingestionDelayEndpoint: { authType: lambda.FunctionUrlAuthType.NONE },
  });
  return stack;
}

type Suppression = { id: string; reason: string; applies_to?: unknown[] };

/** Runs the AWS Solutions checks on the stack; returns its findings (messages name rule and resource). */
function nagFindings(stack: Stack) {
  Aspects.of(stack).add(new AwsSolutionsChecks());
  const annotations = Annotations.fromStack(stack);
  const render = (finding: SynthesisMessage) => `${finding.id}: ${String(finding.entry.data).split(': ')[0]}`;
  return {
    errors: annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(render),
    warnings: annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(render),
  };
}

/** Every cdk-nag suppression in the template, with the logical id of the resource carrying it. */
function suppressionsOf(stack: Stack): Array<Suppression & { resource: string }> {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Metadata?: { cdk_nag?: { rules_to_suppress?: Suppression[] } } }
  >;
  return Object.entries(resources).flatMap(([resource, { Metadata }]) =>
    (Metadata?.cdk_nag?.rules_to_suppress ?? []).map((rule) => ({ ...rule, resource })),
  );
}

const words = (text: string) => text.split(/\s+/).filter((word) => word.length > 0).length;

describe.each([
  ['the ready stack with its defaults', () => defaultStack()],
  ['a sync with every optional feature on', () => fullyFeaturedStack().stack],
  ['a sync with a created alarms topic and a public endpoint', createdTopicStack],
  ['a table with two routed indexes', () => twoIndexStack().stack],
  ['an Atlas source with two routed indexes', () => atlasIndexesStack().stack],
])('cdk-nag AwsSolutions on %s', (_name, build) => {
  let stack: Stack;
  let findings: ReturnType<typeof nagFindings>;

  beforeAll(() => {
    stack = build();
    findings = nagFindings(stack);
  });

  it('reports no unsuppressed error', () => {
    expect(findings.errors).toEqual([]);
  });

  it('reports no unsuppressed warning', () => {
    expect(findings.warnings).toEqual([]);
  });

  it('gives every suppression a reason of at least 10 words', () => {
    const suppressions = suppressionsOf(stack);
    expect(suppressions.length).toBeGreaterThan(0);
    for (const { id, reason, resource } of suppressions) {
      expect(words(reason), `${id} on ${resource}: "${reason}"`).toBeGreaterThanOrEqual(10);
    }
  });

  it('suppresses IAM wildcards only for named wildcards, never for a whole rule', () => {
    for (const { id, applies_to, resource } of suppressionsOf(stack)) {
      if (id === 'AwsSolutions-IAM4' || id === 'AwsSolutions-IAM5') {
        expect(applies_to?.length ?? 0, `${id} on ${resource} names what it applies to`).toBeGreaterThan(0);
      }
    }
  });
});
