import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CollectionDefinition } from '../../../functions/core/resync.ts';
import { type CommandContext, EXIT } from '../context.ts';
import { initIndex, schemaDiff } from '../operations/schema.ts';
import { TargetError } from '../operations/target.ts';
import { renderInit, renderSchemaDiff } from '../render/schema.ts';

/** A `--schema` file: a collection schema as JSON (its `name` is ignored). */
async function schemaFile(path: string | undefined): Promise<CollectionDefinition | undefined> {
  if (path === undefined) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CollectionDefinition;
  } catch (error) {
    throw new TargetError(`--schema ${path}: ${(error as Error).message}`);
  }
}

/** `schema diff` and `init`: the index as code (issue 19) from the CLI. */
export function addSchemaCommands(program: Command, context: CommandContext): void {
  program
    .command('schema')
    .description('the deployed collection schema against the live one')
    .command('diff')
    .description(
      'what a deploy would change in the live schema (exit 2 when it differs or the alias is missing)',
    )
    .option('--schema <file>', "the deployed schema as JSON (default: the target's)")
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json schema diff')
    .action(async (options: { schema?: string }, command: Command) => {
      const given = await schemaFile(options.schema);
      await context.withConnection(command, async (connection, json) => {
        const report = await schemaDiff(connection, given);
        if (report.collection === undefined || report.differences.length > 0) context.exitWith(EXIT.problem);
        context.print(json, report, () => renderSchemaDiff(report));
      });
    });
  program
    .command('init')
    .description(
      'create the index as a deploy does: node check, then a first load whose swap creates the alias',
    )
    .option('--schema <file>', "the collection schema as JSON (default: the target's)")
    .option('--no-check-nodes', 'skip the node and key check')
    .addHelpText('after', '\nExample:\n  npm run cli -- --target target.json init --schema schema.json')
    .action(async (options: { schema?: string; checkNodes: boolean }, command: Command) => {
      const given = await schemaFile(options.schema);
      await context.withConnection(command, async (connection, json) => {
        const data = await initIndex(connection, given, options.checkNodes);
        context.print(json, data, () => renderInit(data));
      });
    });
}
