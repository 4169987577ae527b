import type { IndexResourceData } from '../../../functions/contract/index-resource.ts';
import { describeDifference } from '../../../functions/core/collection-schema-diff.ts';
import type { SchemaDiffReport } from '../operations/schema.ts';

/** `schema diff`: what a deploy (or `init`) would change, one line per difference. */
export function renderSchemaDiff(report: SchemaDiffReport): string {
  if (report.collection === undefined)
    return `alias '${report.alias}' does not exist: a deploy (or init) creates it with a first load`;
  if (report.differences.length === 0)
    return `alias '${report.alias}' → ${report.collection}: the live schema is the deployed one (a deploy starts nothing)`;
  return [
    `alias '${report.alias}' → ${report.collection}: ${report.differences.length} differences (live → deployed)`,
    ...report.differences.map((difference) => `  ${describeDifference(difference)}`),
    'a deploy (or init) migrates with a zero-downtime re-sync; follow it with: resync status',
  ].join('\n');
}

/** `init`: what the first-load path did. */
export function renderInit(data: IndexResourceData): string {
  switch (data.Action) {
    case 'created':
      return `started the first load: re-sync ${data.JobId} into ${data.Collection}; the alias appears at its swap (resync status)`;
    case 'migrating':
      return `the schema differs: started migration re-sync ${data.JobId} into ${data.Collection} (resync status)`;
    case 'unchanged':
      return `the live schema is the deployed one (${data.Collection}): nothing started`;
    default:
      return `${data.Action}: ${data.Collection}`;
  }
}
