import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import {
  compileRoutes,
  cookieValue,
  nextConfiguration,
  pickVersion,
  validateBackends,
  validateRoutes,
} from "./routes.js";

const backends = {
  v1: [{ id: "a", url: "http://127.0.0.1:1" }],
  v2: [{ id: "b", url: "http://127.0.0.1:2/" }],
};

describe("validateBackends", () => {
  it("normalises urls to their origin", () => {
    expect(validateBackends(backends).v2).toEqual([{ id: "b", url: "http://127.0.0.1:2" }]);
  });

  it.each([
    [{ v1: [{ id: "a", url: "http://x" }], v2: [{ id: "a", url: "http://y" }] }, /duplicate instance id "a"/],
    [{ v1: [{ id: "a", url: "ftp://x" }] }, /only http: and https:/],
    [{ v1: [{ id: "a", url: "http://x/app" }] }, /origin only/],
    [{ v1: [{ id: "", url: "http://x" }] }, /id must be a non-empty string/],
    [{ "bad version": [] }, /invalid version name/],
    [[], /must be an object/],
  ])("rejects %j", (input, message) => {
    expect(() => validateBackends(input)).toThrow(message);
    expect(() => validateBackends(input)).toThrow(UserError);
  });
});

describe("validateRoutes", () => {
  const ok = validateBackends(backends);

  it("accepts weights adding up to 100 and rules on versions with instances", () => {
    const routes = validateRoutes(
      { weights: { v1: 90, v2: 10 }, rules: [{ header: "X-Canary", value: "always", version: "v2" }] },
      ok,
    );
    expect(routes.rules).toEqual([{ header: "X-Canary", value: "always", version: "v2" }]);
  });

  it.each([
    [{ weights: { v1: 90, v2: 20 } }, /add up to 100, or be all 0 to serve nothing \(they add up to 110\)/],
    [{ weights: { v1: 50, v3: 50 } }, /version v3 has no instances/],
    [{ weights: { v1: -1, v2: 101 } }, /from 0 to 100/],
    [
      { weights: { v1: 100 }, rules: [{ header: "x", cookie: "y", value: "1", version: "v1" }] },
      /exactly one of header, cookie/,
    ],
    [{ weights: { v1: 100 }, rules: [{ header: "x", version: "v1" }] }, /exactly one of value, regex/],
    [{ weights: { v1: 100 }, rules: [{ header: "x", regex: "(", version: "v1" }] }, /regex/],
    [
      { weights: { v1: 100 }, rules: [{ cookie: "c", value: "1", version: "v9" }] },
      /version v9 has no instances/,
    ],
    [{ weights: { v1: 100 }, rules: [{ header: "bad header", value: "1", version: "v1" }] }, /header name/],
    [
      { weights: { v1: 100 }, rules: [{ header: "x", value: "a\nshow info", version: "v1" }] },
      /value must not contain control characters/,
    ],
    [
      { weights: { v1: 100 }, rules: [{ cookie: "c", regex: "a\r\nb", version: "v1" }] },
      /regex must not contain control characters/,
    ],
  ])("rejects %j", (input, message) => {
    expect(() => validateRoutes(input, ok)).toThrow(message);
  });
});

describe("nextConfiguration", () => {
  const one = { v1: [{ id: "a", url: "http://127.0.0.1:1" }] };
  const two = { ...one, v2: [{ id: "b", url: "http://127.0.0.1:2" }] };
  it("keeps what the update leaves out, and validates what it gives", () => {
    const current = { backends: two, routes: { weights: { v1: 50, v2: 50 } } };
    expect(nextConfiguration("r", current, {})).toEqual(current);
    expect(nextConfiguration("r", current, { routes: { weights: { v2: 100 } } }).routes).toEqual({
      weights: { v2: 100 },
      rules: [],
    });
    expect(() => nextConfiguration("r", current, { routes: { weights: { v3: 100 } } })).toThrow(UserError);
  });
  it("refuses new backends that the routes it keeps do not fit, and takes both changed at once", () => {
    const current = { backends: two, routes: { weights: { v1: 50, v2: 50 } } };
    expect(() => nextConfiguration("api", current, { backends: one })).toThrow(
      /router api: the current routes do not fit these backends/,
    );
    expect(
      nextConfiguration("api", current, { backends: one, routes: { weights: { v1: 100 } } }),
    ).toMatchObject({
      routes: { weights: { v1: 100 }, rules: [] },
    });
    expect(nextConfiguration("api", { backends: two, routes: null }, { backends: one }).routes).toBeNull();
  });
});

describe("cookieValue", () => {
  it("finds one cookie among others, quoted or not", () => {
    expect(cookieValue("a=1; canary=yes; b=2", "canary")).toBe("yes");
    expect(cookieValue('canary="yes"', "canary")).toBe("yes");
    expect(cookieValue("xcanary=no; canary=", "canary")).toBe("");
    expect(cookieValue("a=1", "canary")).toBeUndefined();
  });
});

describe("pickVersion", () => {
  it("spreads requests in exact proportion to the weights, interleaved", () => {
    const table = compileRoutes({ weights: { v1: 90, v2: 10 } });
    const picks = Array.from({ length: 1000 }, () => pickVersion(table, {}));
    expect(picks.filter((v) => v === "v2")).toHaveLength(100);
    // Smooth: never more than 9 v1 in a row with 90/10.
    expect(picks.join(",")).not.toMatch(/(v1,){10}/);
  });

  it("lets the first matching rule win over the weights", () => {
    const table = compileRoutes({
      weights: { v1: 100, v2: 0 },
      rules: [
        { header: "X-Canary", value: "always", version: "v2" },
        { cookie: "canary", regex: "^(1|yes)$", version: "v2" },
        { header: "X-Canary", value: "never", version: "v1" },
      ],
    });
    expect(pickVersion(table, { "x-canary": "always" })).toBe("v2");
    expect(pickVersion(table, { cookie: "session=1; canary=yes" })).toBe("v2");
    expect(pickVersion(table, { cookie: "canary=no" })).toBe("v1");
    expect(pickVersion(table, { "x-canary": "never", cookie: "canary=1" })).toBe("v2");
    expect(pickVersion(table, {})).toBe("v1");
  });
});
