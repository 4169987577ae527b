import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { defaultStack } from './stacks.ts';

/** Asset hashes (S3 keys of the function bundles) change with any code change, not with the template. */
const ASSET_HASH = /[0-9a-f]{64}/g;

describe('cdk synth snapshot', () => {
  it('synthesizes the ready stack with its defaults unchanged', () => {
    const template = JSON.stringify(Template.fromStack(defaultStack()).toJSON(), null, 2);
    expect(JSON.parse(template.replace(ASSET_HASH, '<asset hash>'))).toMatchSnapshot();
  });
});
