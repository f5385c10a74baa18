// Small helpers the deployer's modules share (messages of errors, output tails).

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The messages of an error and its causes, joined (up to five deep). */
export function describeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) parts.push(e.message);
  return parts.join(": ");
}

export function firstLine(s: string): string {
  return s.split("\n")[0];
}

export function lastLines(s: string, n: number): string {
  return s.trimEnd().split("\n").slice(-n).join("\n");
}
