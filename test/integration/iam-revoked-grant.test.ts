import { DynamoDBServiceException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

/**
 * The enforcement bites: with one grant taken out of the synthesised template (the writer's
 * dynamodb:BatchGetItem on the source table), the real writer's re-read fails with the error
 * DynamoDB answers, and the change is never indexed.
 */

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    logLevel: 'ERROR',
    visibilityTimeoutSeconds: 1,
    iam: { revoke: [{ function: 'writer', action: 'dynamodb:BatchGetItem' }] },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a grant missing from the template', () => {
  it("fails the writer's consistent re-read with DynamoDB's AccessDeniedException, and nothing is indexed", async () => {
    const errors: unknown[] = [];
    const { adapters } = stack.functions.writer;
    const readItems = adapters.readItems;
    adapters.readItems = async (keys) => {
      try {
        return await readItems(keys);
      } catch (error) {
        errors.push(error);
        throw error;
      }
    };
    try {
      await stack.dynamodb.send(
        new PutItemCommand({
          TableName: stack.tableName,
          Item: productItem(seededRandom(1), stack.keyAttributes, 1, 1, Date.now()),
        }),
      );
      const deadline = Date.now() + 30_000;
      while (errors.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));

      const [refused] = errors;
      expect(refused).toBeInstanceOf(DynamoDBServiceException);
      expect(refused).toMatchObject({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      });
      expect((refused as Error).message).toMatch(
        new RegExp(
          '^User: arn:aws:sts::000000000000:assumed-role/SyncWriterServiceRole\\w+/writer is not authorized to perform: ' +
            `dynamodb:BatchGetItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tableName} ` +
            'because no identity-based policy allows the dynamodb:BatchGetItem action$',
        ),
      );
      expect(stack.iam.denials).toContainEqual({
        function: 'writer',
        action: 'dynamodb:BatchGetItem',
        resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tableName}`,
        decision: 'implicit-deny',
      });
      const report = await stack.verify();
      expect({ tableItems: report.tableItems, missing: report.missing.length }).toEqual({
        tableItems: 1,
        missing: 1,
      });
    } finally {
      adapters.readItems = readItems;
    }
  });
});

/**
 * The index custom resource's role (issue 19) is enforced the same way: without its sqs:SendMessage on
 * the re-sync queue, the Create that starts the first load fails the deploy, naming the call refused.
 */
describe("a grant missing from the index custom resource's role", () => {
  it('fails the Create that starts the first load, and the stack that would deploy it', async () => {
    const started = startLocalStack({
      schema: productSchema,
      index: 'custom-resource',
      logLevel: 'ERROR',
      iam: { revoke: [{ function: 'indexResource', action: 'sqs:SendMessage' }] },
    });
    await expect(started).rejects.toThrow(
      /IndexHandler\w*\/indexResource is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:/i,
    );
  }, 120_000);
});
