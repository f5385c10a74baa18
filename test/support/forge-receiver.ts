// A stand-in for GitHub, Gitea and GitLab on loopback that checks every request it gets: GitHub's against
// GitHub's published OpenAPI description (@octokit/openapi: the operation found by method and path, the
// body validated with ajv against its requestBody schema, the auth header), Gitea's and GitLab's against
// their documented commit status, pull request lookup and comment endpoints (path, method, body fields,
// auth header). What it finds wrong is kept in each request's `problems`; tests assert there are none.
// It can fail the first N requests with 502 to exercise retries, and answer that a commit belongs to no
// pull request.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import formatsPlugin from "ajv-formats";

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((formatsPlugin as unknown as { default?: typeof formatsPlugin }).default ??
  formatsPlugin) as unknown as (ajv: Ajv) => void;

export type ForgeKind = "github" | "gitea" | "gitlab";

export type ReceivedRequest = {
  method: string;
  /** The path below the API base. */
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
  /** The GitHub operation it matched (e.g. repos/create-commit-status). */
  operation?: string;
  problems: string[];
  /** The status answered. */
  status: number;
};

export type ForgeReceiver = {
  kind: ForgeKind;
  /** The API base to configure (GitHub: the root; Gitea: /api/v1; GitLab: /api/v4). */
  apiUrl: string;
  requests: ReceivedRequest[];
  /** Every problem of every request, as lines. */
  problems(): string[];
  close(): Promise<void>;
};

type Operation = { template: string; regex: RegExp; method: string; id: string; validate?: ValidateFunction };

let githubOperations: Operation[] | undefined;

/** Every operation of api.github.com, with a lazily compiled body validator. */
function loadGitHub(): Operation[] {
  if (githubOperations) return githubOperations;
  const require = createRequire(import.meta.url);
  const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
  const doc = JSON.parse(readFileSync(file, "utf8")) as {
    paths: Record<string, Record<string, { operationId?: string; requestBody?: unknown }>>;
  };
  // OpenAPI 3.0 keywords (nullable, example, x-…) are not JSON Schema's: not strict, not schema-checked.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: "github" });
  const pointer = (s: string) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"));
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const regex = new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`,
    );
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== "object" || !("operationId" in op)) continue;
      const entry: Operation = { template, regex, method: method.toUpperCase(), id: String(op.operationId) };
      if (op.requestBody)
        Object.defineProperty(entry, "validate", {
          get: () =>
            ajv.getSchema(
              `github#/paths/${pointer(template)}/${method}/requestBody/content/application~1json/schema`,
            ),
        });
      ops.push(entry);
    }
  }
  // A literal segment beats a parameter (GET /repos/{o}/{r}/commits/{sha}/pulls, not …/{ref}/…).
  const params = (t: string) => t.match(/\{/g)?.length ?? 0;
  ops.sort((a, b) => params(a.template) - params(b.template));
  githubOperations = ops;
  return ops;
}

function checkGitHub(
  r: ReceivedRequest,
  token: string,
  o: { noPulls: boolean },
): { status: number; body: unknown } {
  const op = loadGitHub().find((o) => o.method === r.method && o.regex.test(r.path));
  if (!op) {
    r.problems.push(`${r.method} ${r.path} is no operation of api.github.com`);
    return { status: 404, body: { message: "Not Found" } };
  }
  r.operation = op.id;
  const auth = String(r.headers.authorization ?? "");
  if (auth !== `token ${token}` && auth !== `Bearer ${token}`)
    r.problems.push(
      `authorization header is not "token <the token>" or "Bearer <the token>": ${auth ? "other" : "none"}`,
    );
  if (!String(r.headers["user-agent"] ?? ""))
    r.problems.push("no User-Agent (GitHub refuses requests without one)");
  if (!/application\/vnd\.github|application\/json/.test(String(r.headers.accept ?? "")))
    r.problems.push(`accept header ${JSON.stringify(r.headers.accept)} is not GitHub's media type`);
  const validate = op.validate;
  if (validate) {
    if (!String(r.headers["content-type"] ?? "").startsWith("application/json"))
      r.problems.push(`content-type ${JSON.stringify(r.headers["content-type"])} is not application/json`);
    if (!validate(r.body))
      for (const e of validate.errors ?? []) r.problems.push(`body${e.instancePath} ${e.message} (${op.id})`);
  }
  const id = 1000 + Math.floor(Math.random() * 1000);
  if (op.id === "repos/create-deployment")
    return {
      status: 201,
      body: { id, sha: "0".repeat(40), ref: (r.body as { ref?: string })?.ref, environment: "x" },
    };
  if (op.id === "repos/list-pull-requests-associated-with-commit")
    return { status: 200, body: o.noPulls ? [] : [{ number: 7, state: "open" }] };
  return { status: r.method === "GET" ? 200 : 201, body: { id } };
}

/**
 * Gitea (its API reference, /api/swagger): POST /api/v1/repos/{owner}/{repo}/statuses/{sha}
 * (CreateStatusOption), GET /api/v1/repos/{owner}/{repo}/commits/{sha}/pull (repoGetCommitPullRequest:
 * one PullRequest, 404 when none) and POST /api/v1/repos/{owner}/{repo}/issues/{index}/comments
 * (issueCreateComment, CreateIssueCommentOption: body required).
 */
function checkGitea(
  r: ReceivedRequest,
  token: string,
  o: { noPulls: boolean },
): { status: number; body: unknown } {
  const auth = String(r.headers.authorization ?? "");
  const authorised = () => {
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`)
      r.problems.push("authorization header is not 'token <the token>'");
  };
  if (r.method === "GET" && /^\/api\/v1\/repos\/[^/]+\/[^/]+\/commits\/[0-9a-f]{40}\/pull$/.test(r.path)) {
    authorised();
    if (r.body !== undefined) r.problems.push("a GET with a body");
    return o.noPulls
      ? { status: 404, body: { message: "not found" } }
      : { status: 200, body: { id: 70, number: 7, state: "open", head: { sha: r.path.split("/")[7] } } };
  }
  if (r.method === "POST" && /^\/api\/v1\/repos\/[^/]+\/[^/]+\/issues\/[1-9]\d*\/comments$/.test(r.path)) {
    authorised();
    checkFields(r, {}, [], ["body"]);
    return { status: 201, body: { id: 1, body: (r.body as { body?: string })?.body } };
  }
  const m = /^\/api\/v1\/repos\/[^/]+\/[^/]+\/statuses\/([0-9a-f]{40})$/.exec(r.path);
  if (r.method !== "POST" || !m) {
    r.problems.push(`${r.method} ${r.path} is none of Gitea's endpoints slipway uses`);
    return { status: 404, body: { message: "not found" } };
  }
  authorised();
  checkFields(r, { state: ["pending", "success", "error", "failure", "warning"] }, [
    "target_url",
    "description",
    "context",
  ]);
  return { status: 201, body: { id: 1 } };
}

/**
 * GitLab (its REST API docs): POST /api/v4/projects/:id/statuses/:sha (Commits API, "Set the pipeline
 * status of a commit"), GET /api/v4/projects/:id/repository/commits/:sha/merge_requests ("List merge
 * requests associated with a commit") and POST /api/v4/projects/:id/merge_requests/:merge_request_iid/notes
 * (Notes API, "Create new merge request note": body required).
 */
function checkGitLab(
  r: ReceivedRequest,
  token: string,
  o: { noPulls: boolean },
): { status: number; body: unknown } {
  const authorised = () => {
    const ok = r.headers["private-token"] === token || r.headers.authorization === `Bearer ${token}`;
    if (!ok) r.problems.push("neither PRIVATE-TOKEN nor Authorization: Bearer carries the token");
  };
  const project = (id: string) => {
    if (!/^\d+$/.test(id) && !/%2F/i.test(id))
      r.problems.push(`project id ${id} is neither a number nor a URL-encoded path`);
  };
  const mrs = /^\/api\/v4\/projects\/([^/]+)\/repository\/commits\/[0-9a-f]{40}\/merge_requests$/.exec(
    r.path,
  );
  if (r.method === "GET" && mrs) {
    authorised();
    project(mrs[1]);
    return { status: 200, body: o.noPulls ? [] : [{ id: 900, iid: 7, state: "opened" }] };
  }
  const notes = /^\/api\/v4\/projects\/([^/]+)\/merge_requests\/[1-9]\d*\/notes$/.exec(r.path);
  if (r.method === "POST" && notes) {
    authorised();
    project(notes[1]);
    checkFields(r, {}, ["internal", "created_at", "merge_request_diff_head_sha"], ["body"]);
    return { status: 201, body: { id: 1, body: (r.body as { body?: string })?.body } };
  }
  const m = /^\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(r.path);
  if (r.method !== "POST" || !m) {
    r.problems.push(`${r.method} ${r.path} is none of GitLab's endpoints slipway uses`);
    return { status: 404, body: { message: "404 Not Found" } };
  }
  project(m[1]);
  authorised();
  checkFields(r, { state: ["pending", "running", "success", "failed", "canceled", "skipped"] }, [
    "ref",
    "name",
    "context",
    "target_url",
    "description",
    "coverage",
    "pipeline_id",
  ]);
  return { status: 201, body: { id: 1, status: (r.body as { state?: string })?.state } };
}

function checkFields(
  r: ReceivedRequest,
  enums: Record<string, string[]>,
  optional: string[],
  required: string[] = [],
): void {
  if (!String(r.headers["content-type"] ?? "").startsWith("application/json"))
    r.problems.push(`content-type ${JSON.stringify(r.headers["content-type"])} is not application/json`);
  const body = r.body as Record<string, unknown> | null;
  if (!body || typeof body !== "object") {
    r.problems.push("the body is not a JSON object");
    return;
  }
  for (const k of required)
    if (typeof body[k] !== "string" || body[k] === "")
      r.problems.push(`${k} is required (a non-empty string)`);
  for (const [k, values] of Object.entries(enums))
    if (!values.includes(String(body[k])))
      r.problems.push(`${k} ${JSON.stringify(body[k])} is not one of ${values.join(", ")}`);
  for (const k of Object.keys(body))
    if (!(k in enums) && !optional.includes(k) && !required.includes(k))
      r.problems.push(`unknown body field ${k}`);
    else if (!["pipeline_id", "coverage", "internal"].includes(k) && typeof body[k] !== "string")
      r.problems.push(`${k} is not a string`);
}

export async function startForgeReceiver(o: {
  kind: ForgeKind;
  token: string;
  /** Answer 502 to this many requests first. */
  failFirst?: number;
  /** Only requests whose path matches count for failFirst (default: every request). */
  failOn?: RegExp;
  /** The commit belongs to no pull (merge) request. */
  noPulls?: boolean;
}): Promise<ForgeReceiver> {
  if (o.kind === "github") loadGitHub();
  const requests: ReceivedRequest[] = [];
  let failures = o.failFirst ?? 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const r: ReceivedRequest = {
        method: req.method ?? "",
        path: (req.url ?? "").split("?")[0],
        headers: req.headers,
        body: undefined,
        problems: [],
        status: 0,
      };
      if (text) {
        try {
          r.body = JSON.parse(text);
        } catch {
          r.problems.push("the body is not JSON");
        }
      }
      const answer =
        o.kind === "github"
          ? checkGitHub(r, o.token, { noPulls: o.noPulls ?? false })
          : o.kind === "gitea"
            ? checkGitea(r, o.token, { noPulls: o.noPulls ?? false })
            : checkGitLab(r, o.token, { noPulls: o.noPulls ?? false });
      // As the forges do: a request without the token is refused (its problem is recorded above).
      const auth = String(req.headers.authorization ?? "");
      const carries =
        auth === `token ${o.token}` ||
        auth === `Bearer ${o.token}` ||
        (o.kind === "gitlab" && req.headers["private-token"] === o.token);
      if (!carries) {
        r.status = 401;
        requests.push(r);
        res.writeHead(401, { "content-type": "application/json" }).end('{"message":"Unauthorized"}');
        return;
      }
      if (failures > 0 && (!o.failOn || o.failOn.test(r.path))) {
        failures--;
        r.status = 502;
        requests.push(r);
        res.writeHead(502, { "content-type": "application/json" }).end('{"message":"Bad Gateway"}');
        return;
      }
      r.status = answer.status;
      requests.push(r);
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const root = `http://127.0.0.1:${port}`;
  return {
    kind: o.kind,
    apiUrl: o.kind === "github" ? root : o.kind === "gitea" ? `${root}/api/v1` : `${root}/api/v4`,
    requests,
    problems: () => requests.flatMap((r) => r.problems.map((p) => `${r.method} ${r.path}: ${p}`)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
