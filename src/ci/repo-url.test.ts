// The repository URLs the server clones when a repository is registered (API, CLI, dashboard): the
// usual remote forms pass, and the ones that would run a command, leak a password to viewers, step out
// of a path or name another machine's file share are refused before git sees them.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { checkRepoUrl } from "./repos.js";

describe("checkRepoUrl", () => {
  it.each([
    "https://github.com/acme/app.git",
    "http://git.internal:3000/acme/app",
    "ssh://git@github.com/acme/app.git",
    "git+ssh://git@example.com:2222/acme/app",
    "git://example.com/acme/app",
    "git@github.com:acme/app.git",
    "https://gitlab.example.com/group/sub/app.git",
    "/srv/git/app.git",
    "/tmp/with space/app",
    "file:///srv/git/app.git",
    "file://localhost/srv/git/app.git",
  ])("takes %s", (url) => {
    expect(checkRepoUrl(url)).toBe(url);
  });

  it.each([
    ["ext::sh -c touch% /tmp/pwned", "remote-helper forms"],
    ["EXT::sh -c id", "remote-helper forms"],
    ["fd::3", "remote-helper forms"],
    ["transport::https://example.com/x", "remote-helper forms"],
    ["gopher://example.com/app", "scheme gopher:// is not allowed"],
    ["javascript://example.com/%0aalert(1)", "scheme javascript:// is not allowed"],
    ["javascript:alert(1)", "use user@host:path"],
    ["https://alice:hunter2@example.com/app.git", "must not hold a password"],
    ["https://ghp_0123456789abcdef@github.com/acme/app.git", "must not hold a password or token"],
    ["ssh://git:hunter2@example.com/app.git", "must not hold a password"],
    ["https:///app.git", "no host"],
    ["file://server/share/app.git", "a path on this server"],
    ["/srv/git/../../etc", "'..' segments"],
    ["/srv/git/./app", "'.' or '..' segments"],
    ["https://example.com/acme/%2e%2e/app", "'..' segments"],
    ["git@example.com:../app", "'..' segments"],
    ["-oProxyCommand=x@host:app", "start with '-'"],
    ["git@-oProxyCommand=x:app", "must not start with '-'"],
    ["relative/app", "must be absolute"],
    ["", "must not be empty"],
    ["/srv/git/app\n", "control characters"],
    [`https://example.com/${"a".repeat(2100)}`, "longer than 2048"],
  ])("refuses %s", (url, why) => {
    expect(() => checkRepoUrl(url)).toThrow(UserError);
    expect(() => checkRepoUrl(url)).toThrow(why);
  });
});
