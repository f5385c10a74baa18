// Dependency graphs between named things (services that depend on services): cycle detection shared by the
// config validation (which can point at the line) and the planners (which must never loop).

/**
 * The first cycle found, as the names along it with the first repeated at the end (`a → b → a` is
 * `["a", "b", "a"]`); undefined when the graph is acyclic. Edges to unknown names are ignored. Deterministic:
 * nodes and edges are visited in the order given.
 */
export function findCycle(graph: Record<string, readonly string[] | undefined>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, "visiting");
    stack.push(n);
    for (const m of graph[n] ?? []) {
      if (!(m in graph)) continue;
      if (state.get(m) === "visiting") return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of Object.keys(graph)) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(" → ");
}
