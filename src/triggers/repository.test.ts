import { describe, expect, test } from "vitest";
import { repositoryMatches, repositoryPayload, repositoryUrlKey } from "./index.js";

describe("repositoryUrlKey", () => {
  test.each([
    ["https://github.com/Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["https://github.com/Codertocat/Hello-World", "github.com/codertocat/hello-world"],
    ["https://github.com/Codertocat/Hello-World/", "github.com/codertocat/hello-world"],
    ["git@github.com:Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["ssh://git@github.com:22/Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["git://github.com/Codertocat/Hello-World.git", "github.com/codertocat/hello-world"],
    ["https://user:token@git.example.com:3000/acme/webapp.git", "git.example.com/acme/webapp"],
    ["http://gitlab.example.com/shop/frontend/storefront.git", "gitlab.example.com/shop/frontend/storefront"],
  ])("%s → %s", (url, key) => {
    expect(repositoryUrlKey(url)).toBe(key);
  });

  test.each(["", "not a url", "https://", "https://github.com/", "/local/path/repo.git"])(
    "%j is not a repository URL",
    (url) => {
      expect(repositoryUrlKey(url)).toBeUndefined();
    },
  );
});

describe("repositoryMatches", () => {
  const repo = {
    fullName: "acme/webapp",
    cloneUrls: ["https://git.example.com/acme/webapp.git", "git@git.example.com:acme/webapp.git"],
    htmlUrl: "https://git.example.com/acme/webapp",
  };

  test("by any clone URL or the web URL", () => {
    expect(repositoryMatches(repo, "https://git.example.com/acme/webapp")).toBe(true);
    expect(repositoryMatches(repo, "ssh://git@git.example.com:2222/acme/webapp.git")).toBe(true);
    expect(
      repositoryMatches({ cloneUrls: [], htmlUrl: repo.htmlUrl }, "git@git.example.com:acme/webapp"),
    ).toBe(true);
  });

  test("not another repository, host or nothing", () => {
    expect(repositoryMatches(repo, "https://git.example.com/acme/webapp-old.git")).toBe(false);
    expect(repositoryMatches(repo, "https://github.com/acme/webapp.git")).toBe(false);
    expect(repositoryMatches({ cloneUrls: [] }, "https://git.example.com/acme/webapp.git")).toBe(false);
    expect(repositoryMatches(repo, "webapp")).toBe(false);
  });
});

test("repositoryPayload has GitHub's field names and only what is known", () => {
  expect(
    repositoryPayload({
      fullName: "shop/frontend/storefront",
      private: true,
      sshUrl: "git@h:shop/frontend/storefront.git",
    }),
  ).toEqual({
    name: "storefront",
    full_name: "shop/frontend/storefront",
    owner: { login: "shop/frontend" },
    private: true,
    ssh_url: "git@h:shop/frontend/storefront.git",
  });
});
