// `slipway audit`: the server's audit log (admin) — who changed a secret, an environment's rules, a
// repository, its webhook secret or forge settings, a token or a runner, and who approved or rejected a
// deployment. Newest first; `--before ID` pages back, `--json` gives the entries as the API does.
import type { Command } from "@commander-js/extra-typings";
import { formatTimestamp, textTable } from "../lib/format.js";
import { ApiClient, type ClientFlags } from "./client.js";

type Json = Record<string, any>;

type AuditFlags = ClientFlags & {
  json?: boolean;
  repo?: string;
  action?: string;
  subject?: string;
  before?: string;
  limit?: string;
};

/** Text as a terminal shows it: one with a control character (an escape sequence, a newline) is quoted. */
function shown(text: string): string {
  return /\p{Cc}/u.test(text) ? JSON.stringify(text) : text;
}

/** The human table's rows: id, time, actor, action, subject, where (repo/env) and the detail as k=v. */
export function auditRows(entries: readonly Json[]): string[][] {
  return entries.map((e) => [
    String(e.id),
    formatTimestamp(e.at),
    shown(String(e.actor)),
    shown(String(e.action)),
    shown(String(e.subject)),
    shown([e.repo, e.env].filter(Boolean).join("/")),
    Object.entries((e.detail as Json | null) ?? {})
      .map(([k, v]) => `${shown(k)}=${typeof v === "string" ? shown(v) : JSON.stringify(v)}`)
      .join(" "),
  ]);
}

export function registerAuditCommand(program: Command, withClient: (cmd: any) => any): void {
  withClient(
    program
      .command("audit")
      .description("the server's audit log: who changed what and when (admin)")
      .option("--repo <name>", "entries about this repository")
      .option("--action <action>", "this action (secret.set), or a prefix ending in '.' (secret.)")
      .option("--subject <name>", "entries about this secret, token, runner, environment or repository")
      .option("--before <id>", "entries older than this one (the id `next` gave)")
      .option("-L, --limit <n>", "at most this many entries (default 100, at most 1000)"),
  ).action(async (flags: AuditFlags) => {
    const q = new URLSearchParams();
    for (const k of ["repo", "action", "subject", "before", "limit"] as const) {
      const v = flags[k];
      if (v !== undefined) q.set(k, v);
    }
    const r = await new ApiClient(flags).request<Json>("GET", `/api/v1/audit?${q}`);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    const rows = auditRows(r.audit as Json[]);
    process.stdout.write(
      rows.length === 0
        ? "no audit entries\n"
        : textTable([["ID", "AT", "ACTOR", "ACTION", "SUBJECT", "WHERE", "DETAIL"], ...rows]),
    );
    if (r.next !== undefined) process.stderr.write(`older entries: --before ${r.next}\n`);
  });
}
