// The OpenAPI document of the REST API, served at /api/v1/openapi.json: the paths, one file per feature
// in openapi/ (listed in the document in the order below), and the response shapes in openapi/schemas.ts.
import { adminPaths } from "./openapi/admin.js";
import { deployPaths } from "./openapi/deploys.js";
import type { Op } from "./openapi/op.js";
import { opsPaths } from "./openapi/ops.js";
import { repoPaths } from "./openapi/repos.js";
import { runnerProtocolPaths } from "./openapi/runner-protocol.js";
import { runPaths } from "./openapi/runs.js";
import { schemas } from "./openapi/schemas.js";

const ops: Record<string, Record<string, Op>> = {
  ...repoPaths,
  ...deployPaths,
  ...runPaths,
  ...adminPaths,
  ...runnerProtocolPaths,
  ...opsPaths,
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, methods] of Object.entries(ops)) {
    const entry: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(methods)) {
      entry[method] = {
        summary: op.summary,
        ...(op.role
          ? {
              security: [{ [op.role === "runner" ? "runnerToken" : "apiToken"]: [] }],
              "x-slipway-role": op.role,
            }
          : {}),
        parameters: [
          ...(op.params ?? []).map((name) => ({
            name,
            in: "path",
            required: true,
            schema: { type: "string" },
          })),
          ...(op.query ?? []).map((name) => ({
            name,
            in: "query",
            required: false,
            schema: { type: "string" },
          })),
        ],
        ...(op.body
          ? {
              requestBody: {
                content: {
                  "application/json": {
                    schema: {
                      type: "object",
                      properties: Object.fromEntries(
                        Object.entries(op.body).map(([k, v]) => [k, { description: String(v) }]),
                      ),
                    },
                  },
                },
              },
            }
          : {}),
        ...(op.tarBody
          ? {
              requestBody: {
                content: { "application/x-tar": { schema: { type: "string", format: "binary" } } },
              },
            }
          : {}),
        responses: {
          "200":
            op.response === "tar" || op.response === "zip" || op.response === "tar-or-zip"
              ? {
                  description: "OK",
                  content: Object.fromEntries(
                    (op.response === "tar-or-zip"
                      ? ["application/x-tar", "application/zip"]
                      : [op.response === "zip" ? "application/zip" : "application/x-tar"]
                    ).map((t) => [t, { schema: { type: "string", format: "binary" } }]),
                  ),
                }
              : op.response
                ? {
                    description: "OK",
                    content: {
                      "application/json": { schema: { $ref: `#/components/schemas/${op.response.schema}` } },
                    },
                  }
                : { description: "OK" },
          "400": { description: "Bad input" },
          "401": { description: "No or bad credentials" },
          "403": {
            description: "Role too low, or a protection rule refused the caller (the message names it)",
          },
          "404": { description: "Not found" },
        },
      };
    }
    paths[path] = entry;
  }
  return {
    openapi: "3.1.0",
    info: { title: "slipway CI server", version: "1" },
    components: {
      schemas,
      securitySchemes: {
        apiToken: {
          type: "http",
          scheme: "bearer",
          description: "An API token (slw_…) with a role: viewer < developer < deployer < admin",
        },
        runnerToken: { type: "http", scheme: "bearer", description: "A runner token (slwr_…)" },
      },
    },
    paths,
  };
}
