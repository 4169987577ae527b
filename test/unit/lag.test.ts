import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  fetchIngestionDelay,
  ingestionDelayOf,
  ingestionDelaySchema,
  LagUnknownError,
  signedHeaders,
} from '../../bin/cli/operations/lag.ts';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const figures = { dlqDepth: 2, circuit: 'closed' as const };

describe('ingestionDelayOf', () => {
  it('is the age of the oldest pending change while changes are stuck', () => {
    expect(ingestionDelayOf({ ...figures, lagMs: 800, oldestPendingAgeMs: 9_500 }, NOW)).toEqual({
      lagMs: 9_500,
      oldestPendingChangeAgeMs: 9_500,
      dlqDepth: 2,
      circuit: 'closed',
      measuredAt: '2026-11-23T12:00:00.000Z',
    });
  });

  it('is the delay of the changes just applied when that is larger', () => {
    expect(ingestionDelayOf({ ...figures, lagMs: 1_200, oldestPendingAgeMs: 300 }, NOW).lagMs).toBe(1_200);
  });

  it('is 0 with nothing pending and nothing applied lately, and says nothing is pending', () => {
    const delay = ingestionDelayOf({ ...figures, lagMs: undefined, oldestPendingAgeMs: undefined }, NOW);
    expect(delay).toMatchObject({ lagMs: 0, oldestPendingChangeAgeMs: null });
    expect(ingestionDelaySchema.parse(delay)).toEqual(delay);
  });
});

describe('signedHeaders (the CLI asking an IAM-authenticated Function URL)', () => {
  const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example' });

  it('signs a Function URL request with SigV4 for lambda in the URL region', async () => {
    const url = new URL('https://abc123.lambda-url.eu-west-1.on.aws/v1/ingestion-delay');
    const headers = await signedHeaders(url, credentials);
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(JSON.stringify(headers)).not.toContain('secret-example');
  });

  it('leaves other endpoints (the embedded stack) unsigned', async () => {
    expect(await signedHeaders(new URL('http://127.0.0.1:4000/v1/ingestion-delay'), credentials)).toEqual({});
  });

  it('without credentials the lag is unknown, and says why', async () => {
    const url = new URL('https://abc123.lambda-url.us-east-1.on.aws/v1/ingestion-delay');
    const none = async () => {
      throw new Error('Could not load credentials from any providers');
    };
    await expect(signedHeaders(url, none)).rejects.toThrow(
      new LagUnknownError(
        'lag unknown: no AWS credentials to sign the request to https://abc123.lambda-url.us-east-1.on.aws (Could not load credentials from any providers)',
      ),
    );
  });
});

describe('fetchIngestionDelay with a named profile (the CLI under --profile)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
  });

  it("signs with the profile's credentials, not the default chain's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lag-profile-'));
    const credentialsFile = join(dir, 'credentials');
    writeFileSync(
      credentialsFile,
      '[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n',
    );
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', credentialsFile);
    vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'config'));
    // What the default chain would find first.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDENVIRONMENT');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'environment-secret');
    const requests: Array<Record<string, string>> = [];
    vi.stubGlobal('fetch', async (_url: string, init: { headers: Record<string, string> }) => {
      requests.push(init.headers);
      return new Response(
        JSON.stringify({
          lagMs: 5,
          oldestPendingChangeAgeMs: null,
          dlqDepth: 0,
          circuit: 'closed',
          measuredAt: new Date(NOW).toISOString(),
        }),
        { status: 200 },
      );
    });
    const url = 'https://abc123.lambda-url.eu-west-1.on.aws/v1/ingestion-delay';
    await fetchIngestionDelay(url, { profile: 'ops' });
    expect(requests[0]?.authorization).toMatch(/Credential=AKIDPROFILE\//);
    await fetchIngestionDelay(url);
    expect(requests[1]?.authorization).toMatch(/Credential=AKIDENVIRONMENT\//);
  });
});
