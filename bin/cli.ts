#!/usr/bin/env -S npx tsx
import { runCli } from '../lib/operations/cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
