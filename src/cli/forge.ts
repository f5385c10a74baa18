// `slipway repo forge NAME` (where a repository's runs and deploys are reported, public badges, PR
// comments) and `slipway repo forge-token NAME` (the forge's access token: read from stdin or a 0600
// file, never from the command line, where `ps` and shell history would show it). Both go through the
// server's API (admin role to change); the token is never printed back.
import { readFileSync, statSync } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { UserError } from "../lib/errors.js";
import { ApiClient, type ClientFlags } from "./client.js";

type Json = Record<string, any>;

type ForgeFlags = ClientFlags & {
  json?: boolean;
  provider?: string;
  apiUrl?: string;
  project?: string;
  public?: boolean;
  prComment?: boolean;
  derive?: boolean;
};

function describeForge(f: Json): string {
  const where = f.target ? `${f.target.provider} ${f.target.apiUrl} ${f.target.project}` : "no forge";
  const lines = [
    `${f.repo}: ${where}`,
    `  token:       ${f.hasToken ? "set" : "not set"}`,
    `  badges:      ${f.public ? "public" : "need a token"}`,
    `  PR comments: ${f.prComment ? "on" : "off"}`,
  ];
  if (f.reason) lines.push(`  not reporting: ${f.reason}`);
  return `${lines.join("\n")}\n`;
}

/** The token from a 0600 file, or from stdin when it is not a terminal. One trailing newline is dropped. */
async function readForgeToken(file: string | undefined, stdin: NodeJS.ReadStream): Promise<string> {
  let text: string;
  if (file !== undefined) {
    let mode: number;
    try {
      mode = statSync(file).mode;
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new UserError(`--file ${file}: ${(err as NodeJS.ErrnoException).message}`);
    }
    if (process.platform !== "win32" && (mode & 0o077) !== 0)
      throw new UserError(
        `--file ${file}: readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); chmod 600 it`,
      );
  } else {
    if (stdin.isTTY)
      throw new UserError(
        "forge-token reads the token from stdin or --file FILE; pipe it in, e.g. `slipway repo forge-token NAME < token.txt` (a token in argv would show in ps and shell history)",
      );
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
    text = Buffer.concat(chunks).toString("utf8");
  }
  const token = text.replace(/\r?\n$/, "");
  if (!token) throw new UserError("the token is empty");
  return token;
}

/** Adds `forge` and `forge-token` to `slipway repo`; `withClient` adds --server, --token, --json. */
export function registerForgeCommands(repo: Command, withClient: (cmd: any) => any): void {
  withClient(
    repo
      .command("forge")
      .description(
        "show or change where a repository's runs and deploys are reported (commit statuses, deployments), its badges and PR comments (admin to change)",
      )
      .argument("<name>", "repository name")
      .option("--provider <forge>", "github, gitea or gitlab (github.com repositories need none)")
      .option(
        "--api-url <url>",
        "the forge's API base, e.g. https://git.example/api/v1 (default: from the remote)",
      )
      .option("--project <path>", "owner/name on the forge (GitLab: path or id; default: from the remote)")
      .option("--derive", "forget --provider, --api-url and --project: derive them from the remote again")
      .option("--public", "serve the repository's badges without a token")
      .option("--no-public", "badges need a token (the default)")
      .option("--pr-comment", "comment on the pull request of a deployed commit with the release's impact")
      .option("--no-pr-comment", "no pull request comments (the default)"),
  ).action(async (name: string, flags: ForgeFlags) => {
    const client = new ApiClient(flags);
    const path = `/api/v1/repos/${encodeURIComponent(name)}/forge`;
    const patch: Json = {};
    if (flags.derive) Object.assign(patch, { provider: null, apiUrl: null, project: null });
    if (flags.provider !== undefined) patch.provider = flags.provider;
    if (flags.apiUrl !== undefined) patch.apiUrl = flags.apiUrl;
    if (flags.project !== undefined) patch.project = flags.project;
    if (flags.public !== undefined) patch.public = flags.public;
    if (flags.prComment !== undefined) patch.prComment = flags.prComment;
    const r =
      Object.keys(patch).length > 0
        ? await client.request<Json>("PATCH", path, patch)
        : await client.request<Json>("GET", path);
    process.stdout.write(flags.json ? `${JSON.stringify(r.forge, null, 2)}\n` : describeForge(r.forge));
  });

  withClient(
    repo
      .command("forge-token")
      .description(
        "set the forge access token a repository's reports are sent with (admin): read from stdin or --file, stored encrypted, never shown",
      )
      .argument("<name>", "repository name")
      .option("--file <file>", "read the token from this file (mode 0600) instead of stdin")
      .option("--remove", "remove the token: nothing is reported any more"),
  ).action(async (name: string, flags: ClientFlags & { json?: boolean; file?: string; remove?: boolean }) => {
    const client = new ApiClient(flags);
    const path = `/api/v1/repos/${encodeURIComponent(name)}/forge/token`;
    const r = flags.remove
      ? await client.request<Json>("DELETE", path)
      : await client.request<Json>("PUT", path, { token: await readForgeToken(flags.file, process.stdin) });
    process.stdout.write(flags.json ? `${JSON.stringify(r.forge, null, 2)}\n` : describeForge(r.forge));
  });
}
