// The OpenAPI document describes the run outputs the dashboard reads: every $ref resolves, and the
// artifact and report endpoints are there with their answers' shapes.
import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.js";
import { adminPaths } from "./openapi/admin.js";
import { deployPaths } from "./openapi/deploys.js";
import { opsPaths } from "./openapi/ops.js";
import { repoPaths } from "./openapi/repos.js";
import { runnerProtocolPaths } from "./openapi/runner-protocol.js";
import { runPaths } from "./openapi/runs.js";

describe("the OpenAPI document", () => {
  const doc = openApiDocument() as any;

  it("has the artifact endpoints with their shapes, and the run's annotations and summary", () => {
    const list = doc.paths["/api/v1/runs/{id}/artifacts"].get;
    expect(list["x-slipway-role"]).toBe("viewer");
    expect(list.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/ArtifactList",
    });
    expect(Object.keys(doc.paths["/api/v1/runs/{id}/artifacts/{name}"].get.responses["200"].content)).toEqual(
      ["application/x-tar", "application/zip"],
    );
    expect(
      Object.keys(doc.paths["/api/v1/runs/{id}/artifacts/{name}/zip"].get.responses["200"].content),
    ).toEqual(["application/zip"]);
    const upload = doc.paths["/api/v1/runner/jobs/{id}/artifacts"].post;
    expect(upload.security).toEqual([{ runnerToken: [] }]);
    expect(Object.keys(upload.requestBody.content)).toEqual(["application/x-tar"]);
    const job = doc.components.schemas.RunView.properties.attempts.items.properties.jobs.items.properties;
    expect(job.annotations.items).toEqual({ $ref: "#/components/schemas/Annotation" });
    expect(job.summary).toEqual({ type: "string" });
  });

  it("has every path of the files in openapi/, each described in one of them only", () => {
    const files = [repoPaths, deployPaths, runPaths, adminPaths, runnerProtocolPaths, opsPaths];
    const described = files.flatMap((f) => Object.keys(f));
    expect(new Set(described).size).toBe(described.length);
    expect(Object.keys(doc.paths)).toEqual(described);
  });

  it("resolves every $ref", () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) {
      const name = r.split("/").pop()!.replace(/"$/, "");
      expect(doc.components.schemas[name], r).toBeDefined();
    }
  });
});
