// Finding and parsing actions: local (`./path`, relative to the workspace as on GitHub) and remote
// (`owner/repo[/path]@ref`, from the action cache: fetched when the job starts, or put there by
// `slipway actions add`).
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { convertActionTemplate, parseAction } from "@actions/workflow-parser/actions/index";
import type { ActionTemplate } from "@actions/workflow-parser/actions/index";
import { isMapping, NoOperationTraceWriter } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { formatProblem, UserError } from "../../lib/errors.js";
import { registerTemplateStrings, validateActionRef, yamlLineBreaks } from "../../workflow/index.js";
import { type ActionCache, addedActionDir } from "../actions/cache.js";

export type RemoteActionRef = { owner: string; repo: string; path: string; ref: string };

export type LoadedAction = {
  dir: string;
  file: string;
  template: ActionTemplate;
  root: TemplateToken;
  repository: string;
  ref: string;
};

export function parseRemoteRef(uses: string): RemoteActionRef | undefined {
  const m = /^([^/@\s]+)\/([^/@\s]+)((?:\/[^@\s]+)?)@([^\s]+)$/.exec(uses);
  if (!m) return undefined;
  return { owner: m[1], repo: m[2], path: m[3].replace(/^\//, ""), ref: m[4] };
}

/** The parts of a remote `uses:` value, validated (they become path segments and git arguments). */
export function remoteRefOf(uses: string): RemoteActionRef {
  const r = parseRemoteRef(uses);
  if (!r)
    throw new UserError(
      `'${uses}' is not a valid action reference: use ./path, owner/repo@ref or owner/repo/path@ref`,
    );
  try {
    return validateActionRef(r);
  } catch (err) {
    throw new UserError(`'${uses}': ${(err as Error).message}`);
  }
}

/** Where `slipway actions add` puts a remote action's files: `<actionsDir>/<owner>/<repo>@<ref>`. */
export function remoteActionDir(actionsDir: string, ref: RemoteActionRef): string {
  return addedActionDir(actionsDir, ref);
}

/**
 * The directory of an action: a local one in the workspace; a remote one where the action cache has
 * it (fetched before the job started, or added with `actions add`).
 */
export function locateAction(
  uses: string,
  workspace: string,
  cache: Pick<ActionCache, "lookup" | "server">,
): { dir: string; repository: string; ref: string } {
  if (uses.startsWith("./") || uses === ".") {
    return { dir: resolve(workspace, uses), repository: "", ref: "" };
  }
  const r = remoteRefOf(uses);
  const base = cache.lookup(r);
  if (!base) {
    throw new UserError(
      `action ${r.owner}/${r.repo}@${r.ref} is not in the action cache (server ${cache.server}); add it with ` +
        `'slipway actions add ${r.owner}/${r.repo}@${r.ref} --from <dir or git url>'`,
    );
  }
  const dir = r.path ? join(base, r.path) : base;
  // The path is validated (no '..'), but a symlink committed in the action's repository could still lead out.
  const real = existsSync(dir) ? realpathSync(dir) : dir;
  const root = realpathSync(base);
  if (real !== root && !real.startsWith(root + sep))
    throw new UserError(`action ${uses}: ${r.path} leads outside the action's repository`);
  return { dir, repository: `${r.owner}/${r.repo}`, ref: r.ref };
}

type ActionError = { rawMessage: string; range?: { start: { line: number; column: number } } };

/**
 * The parser's action schema requires `name` and `description`, but GitHub's runner does not: it
 * needs only `runs` (with `using` and what that kind needs, which the schema does check). Errors for
 * those two missing keys at the top of the file are dropped.
 */
function optionalMetadata(errors: ActionError[], root: TemplateToken | undefined): ActionError[] {
  const start = root?.range?.start;
  return errors.filter(
    (e) =>
      !(
        /^Required property is missing: (name|description)$/.test(e.rawMessage) &&
        start &&
        e.range?.start.line === start.line &&
        e.range?.start.column === start.column
      ),
  );
}

const cache = new Map<string, LoadedAction>();

export function loadAction(
  uses: string,
  workspace: string,
  actions: Pick<ActionCache, "lookup" | "server">,
): LoadedAction {
  const where = locateAction(uses, workspace, actions);
  const file = ["action.yml", "action.yaml"].map((f) => join(where.dir, f)).find((f) => existsSync(f));
  if (!file) {
    const hint = uses.startsWith("./")
      ? " (local actions are found in the workspace: check out the repository first)"
      : "";
    throw new UserError(`no action.yml or action.yaml in ${where.dir} for '${uses}'${hint}`);
  }
  const content = yamlLineBreaks(readFileSync(file, "utf8"));
  const key = `${file}\0${content}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const name = where.repository
    ? `${where.repository}@${where.ref}/${relative(where.dir, file)}`
    : relative(workspace, file);
  const parsed = parseAction({ name, content }, new NoOperationTraceWriter());
  const errors = optionalMetadata(
    parsed.context.errors.getErrors() as unknown as ActionError[],
    parsed.value,
  );
  if (errors.length || !parsed.value || !isMapping(parsed.value)) {
    const problems = errors.map((e) => ({
      file: name,
      line: e.range?.start.line,
      col: e.range?.start.column,
      message: e.rawMessage,
    }));
    throw new UserError(`invalid action ${name}:\n${problems.map(formatProblem).join("\n")}`, problems);
  }
  // Only the dropped errors are left: the converter skips a file with errors, so forget them.
  parsed.context.errors.clear();
  registerTemplateStrings(parsed.value, content, name);
  const template = convertActionTemplate(parsed.context, parsed.value);
  const convErrors = optionalMetadata(
    parsed.context.errors.getErrors() as unknown as ActionError[],
    parsed.value,
  );
  if (convErrors.length) {
    const problems = convErrors.map((e) => ({
      file: name,
      line: e.range?.start.line,
      col: e.range?.start.column,
      message: e.rawMessage,
    }));
    throw new UserError(`invalid action ${name}:\n${problems.map(formatProblem).join("\n")}`, problems);
  }
  const loaded = {
    dir: where.dir,
    file,
    template,
    root: parsed.value,
    repository: where.repository,
    ref: where.ref,
  };
  cache.set(key, loaded);
  return loaded;
}
