import { OperatorError } from '../errors.ts';

/*
 * The index custom resource's pre-flight: before a deploy creates anything, every Typesense node must
 * answer /health and the key must be allowed what the sync needs there. Nodes do not replicate the
 * key store in every setup, so each node is asked.
 */

/** A deploy of the index that cannot go on: the message says what, where, and what to do. */
export class IndexResourceError extends OperatorError {
  override name = 'IndexResourceError';
}

/** What the sync's key must be allowed on every node. */
export const KEY_RIGHTS = ['read the alias', 'list collections', 'create collections'] as const;
export type KeyRight = (typeof KEY_RIGHTS)[number];

/** One node, as the pre-flight sees it (functions/shared/index-resource-adapters.ts). */
export interface NodeProbe {
  node: string;
  /** /health answered `ok` (without a resource error). Never throws. */
  healthy(): Promise<boolean>;
  /**
   * Exercises one right of the key on this node without changing anything; undefined when allowed,
   * else the reason (the server's answer). Never throws.
   */
  check(right: KeyRight, alias: string): Promise<string | undefined>;
}

/**
 * Every node's health and the key's rights; throws one error naming each node that fails and why.
 * `create` adds the right to create collections (a deploy that will start a load).
 */
export async function checkNodes(nodes: readonly NodeProbe[], alias: string, create: boolean): Promise<void> {
  const rights = KEY_RIGHTS.filter((right) => create || right !== 'create collections');
  const problems = await Promise.all(
    nodes.map(async (probe) => {
      if (!(await probe.healthy()))
        return `${probe.node}: unreachable or unhealthy (GET /health did not answer ok)`;
      for (const right of rights) {
        const refused = await probe.check(right, alias);
        if (refused !== undefined) return `${probe.node}: the API key cannot ${right}: ${refused}`;
      }
      return undefined;
    }),
  );
  const failed = problems.filter((problem): problem is string => problem !== undefined);
  if (failed.length > 0)
    throw new IndexResourceError(
      `Typesense is not ready for the sync (nothing was created): ${failed.join('; ')}. Fix the node or the key, or deploy with the node check turned off (CheckNodes false) if Typesense does not exist yet.`,
    );
}
