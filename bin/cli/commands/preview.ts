import { type Command, Option } from 'commander';
import type { ProjectionConfig } from '../../../functions/contract/projection.ts';
import { indexAliases, type Target, targetOfIndex } from '../../../functions/contract/target.ts';
import { aggregationOf } from '../../../functions/core/aggregate.ts';
import { type CommandContext, EXIT, type GlobalOptions } from '../context.ts';
import {
  type PreviewReport,
  type PreviewRules,
  previewGivenItem,
  previewKey,
} from '../operations/preview.ts';
import {
  PreviewInputError,
  parseItem,
  parseKeyOption,
  parseProjection,
  readInput,
} from '../operations/preview-input.ts';
import { loadTransform } from '../operations/transform.ts';
import { renderPreview, wouldDeadLetter } from '../render/preview.ts';

interface PreviewFlags {
  key?: string;
  item?: string;
  plain: boolean;
  projection?: string;
}

const EXAMPLES = `
Examples:
  npm run cli -- --target .local/target.json preview --key '{"pk":"p-000042"}'
  aws dynamodb get-item --table-name items --key '{"pk":{"S":"p-1"}}' > item.json
  npm run cli -- --target .local/target.json preview --item item.json --projection new-projection.json
  echo '{"pk":"p-1","type":"order"}' | npm run cli -- --target .local/target.json preview --plain --item -`;

/** `preview`: the documents an item produces and why, from the table (`--key`) or a file (`--item`). */
export function addPreviewCommand(program: Command, context: CommandContext): void {
  program
    .command('preview')
    .description(
      'what the writer would index for one item, and why: document id, filter trace, document (exit 2 if it would be dead-lettered)',
    )
    .addOption(
      new Option(
        '--key <json>',
        'read the item from the table (strongly consistent): {"pk":"a","sk":1}',
      ).conflicts('item'),
    )
    .option('--item <file>', 'the item as DynamoDB JSON (get-item output), - for stdin; makes no AWS call')
    .addOption(
      new Option('--plain', 'with --item: the item is plain JSON, not DynamoDB JSON').conflicts('key'),
    )
    .option('--projection <file>', "a projection to try instead of the target's (include, exclude, filter)")
    .addHelpText('after', EXAMPLES)
    .action(async (options: PreviewFlags, command: Command) => {
      if ((options.key === undefined) === (options.item === undefined))
        throw new PreviewInputError('preview needs --key <json> or --item <file>');
      const { readStdin } = context.io;
      const projection =
        options.projection === undefined
          ? undefined
          : parseProjection(await readInput('--projection', options.projection, readStdin));
      const rulesOfIndex = async (target: Target): Promise<PreviewRules> => {
        const transform = await loadTransform(target.transform);
        return {
          keyAttributes: target.keyAttributes,
          projection: projection ?? (target.projection as ProjectionConfig),
          ...(transform === undefined ? {} : { transform }),
          index: target.typesense.collection,
          // An aggregated index previews the item's partition, built as its writer builds it.
          ...(target.aggregate !== undefined && {
            aggregation: aggregationOf(target.keyAttributes, target.aggregate),
          }),
        };
      };
      // Every index of the table, unless --index selected one (the target is then that index's).
      const rulesOf = (target: Target): Promise<PreviewRules[]> =>
        Promise.all(
          (command.optsWithGlobals<GlobalOptions>().index === undefined
            ? indexAliases(target).map((alias) => targetOfIndex(target, alias) as Target)
            : [target]
          ).map(rulesOfIndex),
        );
      const print = (json: boolean, report: PreviewReport) => {
        if (wouldDeadLetter(report)) context.exitWith(EXIT.problem);
        context.print(json, report, () => renderPreview(report));
      };
      const { item: file, key } = options;
      if (file !== undefined) {
        const item = parseItem(await readInput('--item', file, readStdin), options.plain);
        const source = file === '-' ? 'stdin' : `file ${file}`;
        await context.withTarget(command, async (target, json) =>
          print(json, previewGivenItem(item, await rulesOf(target), source)),
        );
        return;
      }
      await context.withConnection(command, async ({ dynamodb, target }, json) => {
        const rules = await rulesOf(target);
        const parsed = parseKeyOption(key as string, target.keyAttributes);
        print(json, await previewKey(dynamodb, target.tableName, parsed, rules));
      });
    });
}
