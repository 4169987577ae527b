import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { beforeAll, describe, expect, it } from 'vitest';
import { acceptedEntry, CFN_GUARD_ACCEPTED } from './accepted-findings.ts';
import { writeTemplates } from './templates.ts';

/**
 * The Control Tower proactive controls of @cdklabs/cdk-validator-cfnguard (its cfn-guard binary ships
 * in the npm package) over every synthesized test stack, run as the plugin runs them in `cdk synth`.
 */

interface Finding {
  rule: string;
  stack: string;
  resource: string;
}

describe('Control Tower proactive controls (cfn-guard)', () => {
  let findings: Finding[];

  beforeAll(async () => {
    const files = await writeTemplates();
    const byFile = new Map([...files].map(([stack, file]) => [file, stack]));
    const report = new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }).validate({
      templatePaths: [...files.values()],
    });
    findings = report.violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => ({
        rule: violation.ruleName,
        stack: byFile.get(resource.templatePath) ?? resource.templatePath,
        resource: String(resource.resourceLogicalId),
      })),
    );
  }, 180_000);

  it('runs the bundled rules and reports findings (a broken guard binary would report none)', () => {
    expect(findings.length).toBeGreaterThan(0);
  });

  it('finds nothing that test/construct/accepted-findings.ts does not explain', () => {
    const unexplained = findings.filter(
      (finding) => acceptedEntry(CFN_GUARD_ACCEPTED, finding) === undefined,
    );
    expect(unexplained).toEqual([]);
  });

  it('has no stale accepted entry: each still matches a finding', () => {
    const stale = CFN_GUARD_ACCEPTED.filter(
      (entry) => !findings.some((finding) => acceptedEntry([entry], finding) === entry),
    );
    expect(stale.map((entry) => `${entry.rule} ${entry.resources}`)).toEqual([]);
  });
});
