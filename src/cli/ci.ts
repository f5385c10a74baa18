// CLI commands that talk to a slipway server: repositories, runs, logs, re-runs, cancel, dispatch,
// tokens, the audit log, and `login` to remember the server and token. Every command takes --json.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { OperationError, UserError } from "../lib/errors.js";
import { ApiClient, type ClientFlags, writeConfig } from "./client.js";
import { collect, parsePairs } from "./options.js";
import { formatDuration, formatTimestamp, textTable } from "../lib/format.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";
import { confirm, type ConfirmFlags, yesOption } from "./confirm.js";
import { registerAuditCommand } from "./audit.js";
import { registerForgeCommands } from "./forge.js";
import { formatAnnotation } from "./render.js";

type Json = Record<string, any>;

export function out(flags: { json?: boolean }, data: unknown, human: () => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : human());
}

// Commander's inferred types cannot follow options added by a helper; the actions declare their flags.
export function withClient(cmd: any): any {
  return cmd
    .option("--server <url>", "the slipway server (env SLIPWAY_SERVER)")
    .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--json", "print JSON");
}

const forkPolicyHelp =
  "what a pull request from a fork runs: run-without-secrets (default), require-approval or off";

/** One line on a fork pull request's run: whose code ran, and with which secrets. */
function forkNote(run: Json): string {
  const head = run.event?.payload?.pull_request?.head?.repo?.full_name;
  const from = typeof head === "string" ? ` from ${head}` : "";
  return run.eventName === "pull_request_target"
    ? `fork pull request${from}: the base branch's workflow ran, with secrets`
    : `fork pull request${from}: its own workflow, without secrets`;
}

function runState(r: Json): string {
  return r.status === "completed" ? (r.conclusion ?? "completed") : r.status;
}

export type RunLogFlags = ClientFlags & { json?: boolean; job?: string; attempt?: string; follow?: boolean };

/** `slipway logs <run>`: the log of a run (all jobs, or one with --job); with follow until it completes. */
export async function printRunLogs(id: string, flags: RunLogFlags): Promise<void> {
  const client = new ApiClient(flags);
  const seen = new Map<number, number>();
  const print = async () => {
    const q = new URLSearchParams({
      ...(flags.job ? { job: flags.job } : {}),
      ...(flags.attempt ? { attempt: flags.attempt } : {}),
    });
    const r = await client.request<Json>("GET", `/api/v1/runs/${encodeURIComponent(id)}/logs?${q}`);
    for (const j of r.jobs) {
      for (const c of j.chunks) {
        if ((seen.get(j.jobRowId) ?? 0) >= c.seq) continue;
        seen.set(j.jobRowId, c.seq);
        if (flags.json)
          process.stdout.write(`${JSON.stringify({ job: j.jobKey, seq: c.seq, content: c.content })}\n`);
        else
          for (const line of c.content.replace(/\n$/, "").split("\n"))
            process.stdout.write(`[${j.jobKey}] ${line}\n`);
      }
    }
  };
  await print();
  if (!flags.follow) return;
  for await (const e of client.events(`/api/v1/runs/${encodeURIComponent(id)}/events`)) {
    if (e.event === "log") await print();
    if (e.event === "run" && (e.data as Json).status === "completed") break;
  }
  await print();
}

export function registerCiCommands(program: Command): void {
  withClient(
    program
      .command("login")
      .description("remember a server and token in ~/.config/slipway/config.json (mode 0600)"),
  ).action(async (flags: ClientFlags & { json?: boolean }) => {
    if (!flags.server || !flags.token) throw new UserError("--server and --token are required");
    const client = new ApiClient(flags);
    await client.request("GET", "/api/v1/repos");
    const path = writeConfig({ server: flags.server, token: flags.token });
    out(flags, { server: flags.server, config: path }, () => `logged in to ${flags.server} (${path})\n`);
  });

  const repo = program.command("repo").description("repositories the server builds");
  withClient(
    repo
      .command("add")
      .description("register a repository (git URL or local path); prints its webhook secret once")
      .argument("<url>", "git URL or path")
      .option("--name <name>", "the repository's name (default: from the URL)")
      .option("--branch <branch>", "the default branch (default: the remote's HEAD)")
      .option("--poll <seconds>", "poll the remote every N seconds (for remotes that cannot send webhooks)")
      .option("--fork-pull-requests <policy>", forkPolicyHelp),
  ).action(
    async (
      url: string,
      flags: ClientFlags & {
        json?: boolean;
        name?: string;
        branch?: string;
        poll?: string;
        forkPullRequests?: string;
      },
    ) => {
      const client = new ApiClient(flags);
      const local = !/^[a-z+]+:\/\//i.test(url) && !/^[^/\s]+@[^:\s]+:/.test(url);
      const target = local && existsSync(url) ? resolve(url) : url;
      const body = {
        url: target,
        name: flags.name,
        branch: flags.branch,
        pollInterval: flags.poll ? Number(flags.poll) : undefined,
        forkPullRequests: flags.forkPullRequests,
      };
      const r = await client.request<Json>("POST", "/api/v1/repos", body);
      out(
        flags,
        r,
        () =>
          `added ${r.repo.name} (${r.repo.url}, default branch ${r.repo.branch})\n` +
          `webhook URL: ${client.server}/hooks/github/${r.repo.name} (or /hooks/gitea/…, /hooks/gitlab/…)\n` +
          `webhook secret (shown once): ${r.webhookSecret}\n`,
      );
    },
  );
  withClient(repo.command("list").description("list repositories")).action(
    async (flags: ClientFlags & { json?: boolean }) => {
      const r = await new ApiClient(flags).request<Json>("GET", "/api/v1/repos");
      out(flags, r.repos, () =>
        textTable([
          ["NAME", "URL", "BRANCH", "POLL", "FORK PRS"],
          ...r.repos.map((x: Json) => [
            x.name,
            x.url,
            x.branch,
            x.pollIntervalS ? `${x.pollIntervalS}s` : "-",
            x.forkPullRequests ?? "-",
          ]),
        ]),
      );
    },
  );
  withClient(
    repo
      .command("set")
      .description("change a repository's settings (admin)")
      .argument("<name>", "repository name")
      .option("--fork-pull-requests <policy>", forkPolicyHelp),
  ).action(async (name: string, flags: ClientFlags & { json?: boolean; forkPullRequests?: string }) => {
    if (flags.forkPullRequests === undefined) throw new UserError("say what to change: --fork-pull-requests");
    const r = await new ApiClient(flags).request<Json>("PATCH", `/api/v1/repos/${encodeURIComponent(name)}`, {
      forkPullRequests: flags.forkPullRequests,
    });
    out(flags, r.repo, () => `${r.repo.name}: fork pull requests ${r.repo.forkPullRequests}\n`);
  });

  yesOption(
    withClient(
      repo
        .command("rotate-secret")
        .description(
          "give a repository a new webhook secret, printed once; the old one stops verifying at once (admin)",
        )
        .argument("<name>", "repository name"),
    ),
  ).action(async (name: string, flags: ClientFlags & ConfirmFlags) => {
    await confirm(
      `Rotate ${name}'s webhook secret? Deliveries signed with the old one are refused until the forge has the new one.`,
      flags,
    );
    const client = new ApiClient(flags);
    const r = await client.request<Json>("POST", `/api/v1/repos/${encodeURIComponent(name)}/webhook-secret`);
    out(
      flags,
      r,
      () =>
        `new webhook secret for ${r.repo.name} (shown once): ${r.webhookSecret}
` +
        `set it on the forge's webhook (${client.server}/hooks/<github|gitea|gitlab>/${r.repo.name}); the old one no longer verifies
`,
    );
  });

  registerForgeCommands(repo, withClient);

  const runs = program.command("runs").description("runs on the server");
  withClient(
    runs
      .command("list")
      .description("list runs, newest first")
      .option("--repo <name>", "only this repository")
      .option("--status <status>", "waiting, queued, running or completed")
      .option("-L, --limit <n>", "how many", "20"),
  ).action(async (flags: ClientFlags & { json?: boolean; repo?: string; status?: string; limit: string }) => {
    const q = new URLSearchParams({
      limit: flags.limit,
      ...(flags.repo ? { repo: flags.repo } : {}),
      ...(flags.status ? { status: flags.status } : {}),
    });
    const r = await new ApiClient(flags).request<Json>("GET", `/api/v1/runs?${q}`);
    out(flags, r.runs, () =>
      textTable([
        ["RUN", "#", "WORKFLOW", "EVENT", "REF", "SHA", "STATUS", "ATTEMPT", "CREATED"],
        ...r.runs.map((x: Json) => [
          String(x.id),
          String(x.number),
          x.workflowName,
          x.eventName,
          x.ref,
          x.sha.slice(0, 7),
          runState(x),
          String(x.attempt),
          formatTimestamp(x.createdAt),
        ]),
      ]),
    );
  });
  withClient(
    runs.command("show").description("a run with its jobs and steps").argument("<run>", "run id"),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
    const r = await new ApiClient(flags).request<Json>("GET", `/api/v1/runs/${encodeURIComponent(id)}`);
    out(flags, r, () => {
      const run = r.run;
      const lines = [
        `run ${run.id} (#${run.number}) ${run.workflowName}: ${runState(run)}`,
        `  event ${run.eventName} ${run.ref} ${run.sha}${run.pullRequest ? ` PR #${run.pullRequest.number} ${run.pullRequest.title} by ${run.pullRequest.author}` : ""}`,
      ];
      if (run.fork) lines.push(`  ${forkNote(run)}`);
      for (const a of r.approvals ?? [])
        lines.push(
          `  ${a.environment ? `environment ${a.environment} ` : ""}${a.action.endsWith(".approve") ? "approved" : "rejected"} by ${a.actor} at ${formatTimestamp(a.at)}`,
        );
      if (run.reason) lines.push(`  reason: ${run.reason.split("\n").join("\n          ")}`);
      for (const e of r.environments ?? [])
        lines.push(
          `  environment ${e.environment} (attempt ${e.attempt}): ${e.status === "pending" ? `waiting${e.mayApprove ? `; may approve: ${e.mayApprove}` : ""}${e.waitUntil ? `; timer until ${formatTimestamp(e.waitUntil)}` : ""}` : e.status}${e.decidedBy && e.status !== "pending" ? ` by ${e.decidedBy}` : ""}${e.reason ? ` (${e.reason})` : ""}${e.url ? ` ${e.url}` : ""}`,
        );
      for (const a of r.attempts) {
        lines.push(`attempt ${a.attempt}`);
        for (const j of a.jobs) {
          const dur =
            j.finishedAt && j.startedAt ? ` ${formatDuration(j.finishedAt - j.startedAt, "tenths")}` : "";
          lines.push(
            `  ${j.jobKey.padEnd(24)} ${j.status.padEnd(9)}${dur}${j.reusedFrom ? ` (reused from job ${j.reusedFrom})` : ""}${j.reason ? ` — ${j.reason}` : ""}`,
          );
          for (const s of j.steps) lines.push(`      ${(s.conclusion ?? "running").padEnd(9)} ${s.name}`);
          // As `slipway run` prints them at the end of a run.
          for (const an of j.annotations ?? []) lines.push(`      ${formatAnnotation(an, true)}`);
          if (j.summary?.trim()) {
            lines.push(`      step summary:`);
            for (const l of (j.summary as string).trimEnd().split("\n")) lines.push(`        ${l}`);
          }
        }
      }
      return `${lines.join("\n")}\n`;
    });
  });

  // `slipway logs <run>` is registered by logs.ts (the same command shows a deployed service's output).

  withClient(
    program
      .command("rerun")
      .description(
        "re-run a job (all its legs, or one with --matrix) and what depends on it, or every failed job, as a new attempt",
      )
      .argument("<run>", "run id")
      .option("-j, --job <id>", "the job to re-run")
      .option("--matrix <k=v>", "only the leg with these matrix values", collect, [] as string[])
      .option("--failed", "re-run the failed jobs"),
  ).action(
    async (
      id: string,
      flags: ClientFlags & { json?: boolean; job?: string; matrix: string[]; failed?: boolean },
    ) => {
      if (!flags.job && !flags.failed) throw new UserError("say what to re-run: --job ID or --failed");
      const matrix = flags.matrix.length ? parsePairs(flags.matrix, "--matrix") : undefined;
      const r = await new ApiClient(flags).request<Json>(
        "POST",
        `/api/v1/runs/${encodeURIComponent(id)}/rerun`,
        {
          job: flags.job,
          matrix,
          failed: flags.failed,
        },
      );
      out(flags, r.run, () => `run ${r.run.id}: attempt ${r.run.attempt} ${r.run.status}\n`);
    },
  );
  withClient(program.command("cancel").description("cancel a run").argument("<run>", "run id")).action(
    async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const r = await new ApiClient(flags).request<Json>(
        "POST",
        `/api/v1/runs/${encodeURIComponent(id)}/cancel`,
        {},
      );
      out(flags, r.run, () => `run ${r.run.id}: ${runState(r.run)}\n`);
    },
  );
  withClient(
    program
      .command("approve")
      .description(
        "let a run's jobs waiting for an environment go (--env E: that one), or start a fork pull request's held run (without secrets)",
      )
      .argument("<run>", "run id")
      .option("-E, --env <name>", "only the jobs waiting for this environment"),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean; env?: string }) => {
    const r = await new ApiClient(flags).request<Json>(
      "POST",
      `/api/v1/runs/${encodeURIComponent(id)}/approve`,
      flags.env ? { environment: flags.env } : {},
    );
    out(flags, r.run, () =>
      r.run.fork
        ? `run ${r.run.id}: approved, ${runState(r.run)} (without secrets)\n`
        : `run ${r.run.id}: approved${flags.env ? ` for ${flags.env}` : ""}, ${runState(r.run)}\n`,
    );
  });
  withClient(
    program
      .command("reject")
      .description(
        "fail a run's jobs waiting for an environment, or end a fork pull request's held run without running it",
      )
      .argument("<run>", "run id")
      .option("-E, --env <name>", "only the jobs waiting for this environment")
      .option("--reason <text>", "why (shown on the run)"),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean; reason?: string; env?: string }) => {
    const r = await new ApiClient(flags).request<Json>(
      "POST",
      `/api/v1/runs/${encodeURIComponent(id)}/reject`,
      {
        reason: flags.reason,
        ...(flags.env ? { environment: flags.env } : {}),
      },
    );
    out(
      flags,
      r.run,
      () => `run ${r.run.id}: ${runState(r.run)}${r.run.reason ? ` (${r.run.reason})` : ""}\n`,
    );
  });
  withClient(
    program
      .command("dispatch")
      .description("start a workflow with workflow_dispatch")
      .argument("<repo>", "repository name")
      .argument("<workflow>", "workflow file name (e.g. deploy.yml)")
      .option("--ref <ref>", "branch or tag (default: the default branch)")
      .option("--input <k=v>", "an input", collect, [] as string[]),
  ).action(
    async (
      repoName: string,
      workflow: string,
      flags: ClientFlags & { json?: boolean; ref?: string; input: string[] },
    ) => {
      const r = await new ApiClient(flags).request<Json>(
        "POST",
        `/api/v1/repos/${encodeURIComponent(repoName)}/dispatch`,
        {
          workflow,
          ref: flags.ref,
          inputs: parsePairs(flags.input, "--input"),
        },
      );
      if (!r.runs.length) throw new OperationError("no run started");
      out(flags, r.runs, () =>
        r.runs.map((x: Json) => `started run ${x.id} (#${x.number}) ${x.workflowName}\n`).join(""),
      );
    },
  );

  const token = program.command("token").description("API tokens (admin)");
  withClient(
    token
      .command("create")
      .description("create a token; its value is shown once")
      .argument("<name>")
      .requiredOption("--role <role>", "viewer, developer, deployer or admin"),
  ).action(async (name: string, flags: ClientFlags & { json?: boolean; role: string }) => {
    const r = await new ApiClient(flags).request<Json>("POST", "/api/v1/tokens", { name, role: flags.role });
    out(flags, r, () => `${r.token}\n`);
  });
  withClient(token.command("list").description("list tokens (never their values)")).action(
    async (flags: ClientFlags & { json?: boolean }) => {
      const r = await new ApiClient(flags).request<Json>("GET", "/api/v1/tokens");
      out(flags, r.tokens, () =>
        textTable([
          ["ID", "NAME", "ROLE", "CREATED", "REVOKED"],
          ...r.tokens.map((t: Json) => [
            String(t.id),
            t.name,
            t.role,
            formatTimestamp(t.createdAt),
            formatTimestamp(t.revokedAt),
          ]),
        ]),
      );
    },
  );
  yesOption(withClient(token.command("revoke").description("revoke a token").argument("<id>"))).action(
    async (id: string, flags: ClientFlags & ConfirmFlags) => {
      await confirm(`Revoke token ${id}? Whatever uses it is refused from then on.`, flags);
      const r = await new ApiClient(flags).request<Json>(
        "DELETE",
        `/api/v1/tokens/${encodeURIComponent(id)}`,
      );
      out(flags, r, () => `revoked token ${id}\n`);
    },
  );

  registerAuditCommand(program, withClient);
}
