// Optimistic changes to the cached project graph, with rollback on failure.
//
// A change is a pair of pure functions: `apply` (done at once, before the server answers) and
// `revert` (its inverse, done when the server refuses). Reverting applies the inverse to the graph
// as it is *now* instead of restoring a snapshot, so a live event or another change that arrived
// meanwhile is not thrown away. `commit` folds the server's answer in (new versions).
import type { MutationOptions, QueryClient, QueryKey } from '@tanstack/react-query';

export interface OptimisticSpec<G, V, R, C> {
  /** Runs the request. */
  call: (vars: V) => Promise<R>;
  /** The optimistic change; `ctx` is what `revert` needs (what was there before). */
  apply: (graph: G, vars: V) => { graph: G; ctx: C };
  /** Undoes `apply` on the current graph. */
  revert: (graph: G, vars: V, ctx: C) => G;
  /** Folds the server's answer in; default: keep the optimistic graph. */
  commit?: (graph: G, result: R, vars: V) => G;
  /** Told about the failure after the rollback (to show the server's message). */
  onFailure?: (error: unknown, vars: V) => void;
}

interface Context<C> {
  ctx: C | undefined;
  applied: boolean;
}

/**
 * TanStack Query mutation options that apply `spec` to the query `key` optimistically. Works with
 * `useMutation` and with a bare `MutationObserver` (the tests use the latter).
 */
export function optimisticOptions<G, V, R, C>(
  client: QueryClient,
  key: QueryKey,
  spec: OptimisticSpec<G, V, R, C>,
): MutationOptions<R, unknown, V, Context<C>> {
  return {
    mutationFn: spec.call,
    onMutate: async (vars) => {
      // A refetch landing after the optimistic change would undo it on screen: stop it; the
      // settled handler below does not refetch either, live events bring others' changes.
      await client.cancelQueries({ queryKey: key });
      let ctx: C | undefined;
      let applied = false;
      client.setQueryData<G>(key, (g) => {
        if (g === undefined) return g;
        const r = spec.apply(g, vars);
        ctx = r.ctx;
        applied = true;
        return r.graph;
      });
      return { ctx, applied };
    },
    onError: (error, vars, context) => {
      if (context?.applied) {
        client.setQueryData<G>(key, (g) => (g === undefined ? g : spec.revert(g, vars, context.ctx as C)));
      }
      spec.onFailure?.(error, vars);
    },
    onSuccess: (result, vars) => {
      if (spec.commit) {
        const commit = spec.commit;
        client.setQueryData<G>(key, (g) => (g === undefined ? g : commit(g, result, vars)));
      }
    },
  };
}
