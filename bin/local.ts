#!/usr/bin/env -S npx tsx
import { Command, InvalidArgumentError } from 'commander';
import { runLocalDemo } from '../infra/local/demo.ts';

const positiveInt = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return parsed;
};

const program = new Command('npm start --')
  .description(
    'Runs typesense-sync on the embedded local stack (DynamoDB Local, SQS emulator, Typesense emulator), ' +
      'writes a demo shop (products and their reviews in one table) with inserts, updates and deletes, ' +
      'syncs it into three indexes (products, reviews, and catalogue: each product with its reviews), ' +
      'shows the pipeline live and verifies every index at the end (exit 1 if one drifts).',
  )
  .option('--items <n>', 'distinct products (each with 0 to 2 reviews at first)', positiveInt('--items'), 300)
  .option(
    '--ops <n>',
    'writes and deletes of products and reviews after the inserts',
    positiveInt('--ops'),
    1200,
  )
  .option('--rate <n>', 'source writes per second', positiveInt('--rate'), 300)
  .option('--seed <n>', 'random seed of the workload', positiveInt('--seed'), 42)
  .option(
    '--prefill <n>',
    'products (each with 3 reviews) already in the table when the sync is deployed: the first loads index them',
    positiveInt('--prefill'),
  )
  .option('--keep-running', 'keep the stack and status line up until Ctrl-C', false)
  .option(
    '--dynamodb-port <port>',
    'DynamoDB Local port (default: a free one)',
    positiveInt('--dynamodb-port'),
  )
  .option('--sqs-port <port>', 'SQS emulator port (default: a free one)', positiveInt('--sqs-port'))
  .option(
    '--typesense-port <port>',
    'Typesense emulator port (default: a free one)',
    positiveInt('--typesense-port'),
  )
  .addHelpText(
    'after',
    '\nExamples:\n  npm start\n  npm start -- --items 2000 --rate 1000\n  npm start -- --prefill 5000\n  npm start -- --keep-running --typesense-port 8108',
  );

program.parse();
const exitCode = await runLocalDemo(program.opts());
process.exit(exitCode);
