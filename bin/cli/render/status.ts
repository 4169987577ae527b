import type { PipelineStatus } from '../operations/status.ts';
import { renderLag } from './lag.ts';

/** `status`: one line per part of the pipeline, with the next command to run when a part needs one. */
export function renderStatus(status: PipelineStatus): string {
  const { table, queue, dlq, typesense, lag, streamFailures } = status;
  const failures =
    streamFailures === undefined
      ? 'no failure bucket in the target'
      : `${streamFailures} stream batches to replay${streamFailures > 0 ? ' — see `replay-stream-failures`' : ''}`;
  const { firstLoad } = typesense;
  const collection =
    typesense.collection ??
    (firstLoad === undefined
      ? `missing (${typesense.error ?? 'no such alias or collection'})`
      : `first load into ${firstLoad.collection} (re-sync ${firstLoad.jobId}, ${firstLoad.scanned} scanned; the alias appears at its swap)`);
  const documents = typesense.documents === undefined ? '' : `, ${typesense.documents} documents`;
  return [
    `pipeline  ${status.healthy ? 'healthy' : 'NEEDS ATTENTION'}`,
    `table     ${table.name} (${table.status ?? '?'}, ~${table.approximateItems ?? '?'} items, stream ${table.stream ?? 'OFF'})`,
    `queue     ${queue.total} messages (${queue.visible} waiting, ${queue.inFlight} in flight, ${queue.delayed} delayed)`,
    `DLQ       ${dlq.total} messages${dlq.total > 0 ? ' — see `dlq list`' : ''}`,
    `failures  ${failures}`,
    `typesense ${typesense.healthy ? 'healthy' : 'UNHEALTHY'}, alias '${typesense.alias}' → ${collection}${documents}`,
    'unknown' in lag ? lag.unknown : renderLag(lag),
  ].join('\n');
}
