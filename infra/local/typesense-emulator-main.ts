#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { parseTypesenseVersion, startTypesenseEmulator } from './typesense-emulator.ts';

/*
 * The Typesense emulator as a process of its own (`startTypesenseEmulatorProcess`): prints its URL as
 * the first line on stdout, and exits when stdin closes, so it cannot outlive a parent that was killed
 * before it could stop it.
 */
const { apiKey, port, host, typesenseVersion } = new Command('infra/local/typesense-emulator-main.ts')
  .description('Runs the in-memory Typesense emulator until stdin closes; prints its URL on stdout.')
  .requiredOption('--api-key <key>', 'the API key requests must send')
  .option('--port <n>', 'port (0: a free one)', Number, 0)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option(
    '--typesense-version <n>',
    'Typesense major version to answer as (27-30)',
    parseTypesenseVersion,
    30,
  )
  .parse()
  .opts<{ apiKey: string; port: number; host: string; typesenseVersion: 27 | 28 | 29 | 30 }>();

const emulator = await startTypesenseEmulator({ apiKey, port, host, version: typesenseVersion });
process.stdout.write(`${emulator.url}\n`);
process.stdin.on('end', () => void emulator.stop().finally(() => process.exit(0)));
process.stdin.resume();
