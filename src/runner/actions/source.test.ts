// Where actions come from: flags over the environment, a runner's own setting over the server's, the
// token only from the runner's own environment and only in git's environment, never shown.
import { describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import {
  actionSource,
  displayUrl,
  gitEnvFor,
  legActionSource,
  serverKey,
  validateActionsUrl,
} from "./source.js";

describe("actionSource", () => {
  it("takes settings over the environment, and github.com when neither says", () => {
    expect(actionSource({}, {}).url).toBe("https://github.com");
    const env = {
      SLIPWAY_ACTIONS_URL: "https://ghe.example.com/",
      SLIPWAY_ACTIONS_OFFLINE: "1",
      SLIPWAY_ACTIONS_REF_TTL: "5",
    };
    expect(actionSource({}, env)).toEqual({ url: "https://ghe.example.com", offline: true, refTtlMs: 5000 });
    expect(actionSource({ url: "http://127.0.0.1:3000", offline: false }, env)).toMatchObject({
      url: "http://127.0.0.1:3000",
      offline: false,
    });
  });

  it("refuses URLs git should not be pointed at, and a TTL that is not seconds", () => {
    for (const bad of ["ext::sh -c touch% /tmp/pwned", "not a url", "https://h/x?q=1", "ftp://h/"])
      expect(() => validateActionsUrl(bad), bad).toThrow(UserError);
    expect(() => actionSource({}, { SLIPWAY_ACTIONS_REF_TTL: "soon" })).toThrow(/SLIPWAY_ACTIONS_REF_TTL/);
  });

  it("shows a server without its credentials, and names its cache dir without a way out", () => {
    expect(displayUrl("https://user:secret@ghe.example.com/mirror/")).toBe("https://ghe.example.com/mirror");
    expect(serverKey("http://127.0.0.1:8080/a/../../b")).not.toContain("/");
    expect(serverKey("https://ghe.example.com/git/mirror")).toBe("ghe.example.com_git_mirror");
  });
});

describe("gitEnvFor", () => {
  it("puts the token in git's config environment after the caller's own entries, and never prompts", () => {
    const env = gitEnvFor(actionSource({ url: "https://h", token: "tok" }, {}), { GIT_CONFIG_COUNT: "1" });
    expect(env.GIT_TERMINAL_PROMPT).toBe("0");
    expect(env.GIT_CONFIG_COUNT).toBe("4");
    expect(env.GIT_CONFIG_KEY_3).toBe("http.extraHeader");
    expect(env.GIT_CONFIG_VALUE_3).toBe(
      `Authorization: basic ${Buffer.from("x-access-token:tok").toString("base64")}`,
    );
    expect(JSON.stringify(gitEnvFor(actionSource({ url: "https://h" }, {}), {}))).not.toContain(
      "extraHeader",
    );
  });
});

describe("legActionSource", () => {
  const server = { url: "https://git.example.com", offline: true };

  it("uses the server's URL and offline setting when the runner has none, with the runner's own token", () => {
    expect(legActionSource(server, {}, { SLIPWAY_ACTIONS_TOKEN: "runner-token" })).toEqual({
      url: "https://git.example.com",
      offline: true,
      token: "runner-token",
      refTtlMs: 3_600_000,
    });
  });

  it("lets the runner's own URL and offline setting win", () => {
    expect(
      legActionSource(
        server,
        {},
        { SLIPWAY_ACTIONS_URL: "http://mirror.local", SLIPWAY_ACTIONS_OFFLINE: "0" },
      ),
    ).toMatchObject({
      url: "http://mirror.local",
      offline: false,
    });
    expect(
      legActionSource(server, { url: "http://flag.local" }, { SLIPWAY_ACTIONS_URL: "http://env.local" }).url,
    ).toBe("http://flag.local");
  });

  it("refuses a file:// URL from the server (it would read the runner's own files)", () => {
    expect(() => legActionSource({ url: "file:///etc", offline: false }, {}, {})).toThrow(
      /not a network URL/,
    );
  });
});
