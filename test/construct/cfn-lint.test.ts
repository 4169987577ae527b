import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { acceptedEntry, CFN_LINT_ACCEPTED } from './accepted-findings.ts';
import { writeTemplates } from './templates.ts';

/** cfn-lint (the Python tool, 1.x; `pip install cfn-lint`) over every synthesized test stack. */

interface CfnLintMatch {
  Rule: { Id: string };
  Level: 'Error' | 'Warning' | 'Informational';
  Filename: string;
  Location: { Path: (string | number)[] | null };
  Message: string;
}

interface Finding {
  rule: string;
  level: string;
  stack: string;
  resource: string;
  message: string;
}

/** Runs cfn-lint with JSON output; its exit code is a bit mask of levels found, so only output counts. */
async function cfnLint(files: string[]): Promise<CfnLintMatch[]> {
  try {
    const { stdout } = await promisify(execFile)('cfn-lint', ['--format', 'json', '--', ...files], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    });
    return JSON.parse(stdout) as CfnLintMatch[];
  } catch (error) {
    const failed = error as NodeJS.ErrnoException & { stdout?: string };
    if (failed.code === 'ENOENT')
      throw new Error('cfn-lint not found on PATH — install with: pip install cfn-lint');
    if (failed.stdout?.trim().startsWith('[')) return JSON.parse(failed.stdout) as CfnLintMatch[];
    throw error;
  }
}

describe('cfn-lint over the synthesized stacks', () => {
  let findings: Finding[];
  let stacks: string[];

  beforeAll(async () => {
    const files = await writeTemplates();
    stacks = [...files.keys()];
    const byFile = new Map([...files].map(([stack, file]) => [file, stack]));
    findings = (await cfnLint([...files.values()])).map((match) => ({
      rule: match.Rule.Id,
      level: match.Level,
      stack: byFile.get(match.Filename) ?? match.Filename,
      resource: match.Location.Path?.[0] === 'Resources' ? String(match.Location.Path[1]) : '',
      message: match.Message,
    }));
  }, 180_000);

  it('lints the default, fully featured, LocalStack, two-index and Atlas two-index stacks', () => {
    expect(stacks).toEqual(['Default', 'FullyFeatured', 'LocalStack', 'TwoIndexes', 'AtlasIndexes']);
  });

  it('finds no error', () => {
    expect(findings.filter((finding) => finding.level === 'Error')).toEqual([]);
  });

  it('finds no warning that test/construct/accepted-findings.ts does not explain', () => {
    const unexplained = findings.filter((finding) => acceptedEntry(CFN_LINT_ACCEPTED, finding) === undefined);
    expect(unexplained).toEqual([]);
  });

  it('has no stale accepted entry: each still matches a finding', () => {
    const stale = CFN_LINT_ACCEPTED.filter(
      (entry) => !findings.some((finding) => acceptedEntry([entry], finding) === entry),
    );
    expect(stale.map((entry) => `${entry.rule} ${entry.resources}`)).toEqual([]);
  });
});
