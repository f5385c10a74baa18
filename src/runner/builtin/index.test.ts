import { describe, expect, it } from "vitest";
import { downloadArtifact, uploadArtifact } from "./artifacts.js";
import { cache, cacheRestore, cacheSave } from "./cache.js";
import { builtinActions, findBuiltinAction } from "./index.js";
import { slipwayBuild } from "./slipway-build.js";
import { slipwayDeploy } from "./slipway-deploy.js";
import { slipwayVersion } from "./slipway-version.js";

describe("findBuiltinAction", () => {
  it("finds actions by name, whatever the ref and case", () => {
    expect(findBuiltinAction("actions/upload-artifact@v4")).toBe(uploadArtifact);
    expect(findBuiltinAction("actions/download-artifact@v3.0.2")).toBe(downloadArtifact);
    expect(findBuiltinAction("Actions/Cache@0400d5f644dc74513175e3cd8d07132dd4860809")).toBe(cache);
    expect(findBuiltinAction("actions/cache/restore@main")).toBe(cacheRestore);
    expect(findBuiltinAction("actions/cache/save@v4")).toBe(cacheSave);
    expect(findBuiltinAction("slipway/version@v1")).toBe(slipwayVersion);
    expect(findBuiltinAction("slipway/build@v1")).toBe(slipwayBuild);
    expect(findBuiltinAction("slipway/deploy@v1")).toBe(slipwayDeploy);
  });

  it("finds nothing else", () => {
    expect(findBuiltinAction("actions/checkout@v4")).toBeUndefined();
    expect(findBuiltinAction("./actions/cache")).toBeUndefined();
    expect(findBuiltinAction("someone/actions/cache@v1")).toBeUndefined();
    expect(findBuiltinAction("actions/cache/toString@v1")).toBeUndefined();
    expect(findBuiltinAction("constructor")).toBeUndefined();
    expect(Object.keys(builtinActions)).toHaveLength(8);
  });
});
