// Secrets from the store, injected into a real run (the runner's host executor), are masked in its log —
// multi-line values too, whole and line by line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { executeRun, planRun, type Reporter } from "../runner/index.js";
import { openStore } from "../store/index.js";
import { listWorkflowFiles, loadWorkflows } from "../workflow/index.js";
import { createSecretStore, loadMasterKey, revealSecrets } from "./index.js";

const root = mkdtempSync(join(tmpdir(), "slipway-secrets-mask-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const workflow = `on: push
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - name: print secrets
        env:
          PEM: \${{ secrets.DEPLOY_KEY }}
          TOKEN: \${{ secrets.API_TOKEN }}
        run: |
          echo "token is $TOKEN"
          echo "inline \${{ secrets.API_TOKEN }}"
          printf '%s\\n' "$PEM"
          printf 'second line alone: %s\\n' "$(printf '%s' "$PEM" | sed -n 2p)"
          echo "json: {\\"t\\":\\"$TOKEN\\"}"
          echo "$TOKEN" | base64
`;

describe("secrets in run logs", () => {
  it("are masked, multi-line values whole and line by line", async () => {
    const dataDir = join(root, "data");
    const repoDir = join(root, "repo");
    mkdirSync(join(repoDir, ".github", "workflows"), { recursive: true });
    writeFileSync(join(repoDir, ".github", "workflows", "ci.yml"), workflow);

    const store = await openStore({ dataDir });
    const token = "tok-9f8e7d6c5b4a";
    const pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nq83jf9a0Z\n-----END KEY-----";
    try {
      const secrets = createSecretStore(store, loadMasterKey({ dataDir }));
      await secrets.set({ name: "API_TOKEN", value: "global-token-unused", actor: "test" });
      await secrets.set({ name: "API_TOKEN", value: token, scope: { repo: "acme/api" }, actor: "test" });
      await secrets.set({ name: "DEPLOY_KEY", value: pem, actor: "test" });

      const lines: string[] = [];
      const reporter: Reporter = {
        jobStarted() {},
        stepStarted() {},
        log: (_job, text) => lines.push(text),
        annotation() {},
        stepFinished() {},
        jobFinished() {},
      };
      const workflows = await loadWorkflows(repoDir, listWorkflowFiles(repoDir));
      const event = { name: "push", payload: { ref: "refs/heads/main", after: "0".repeat(40) } };
      const result = await executeRun(planRun(workflows, event), {
        repoDir,
        dataDir,
        repository: "acme/api",
        defaultBranch: "main",
        actor: "test",
        secrets: revealSecrets(await secrets.resolve({ repo: "acme/api" })),
        vars: {},
        inputs: {},
        reporter,
        signal: new AbortController().signal,
      });
      expect(result.status).toBe("success");
      const log = lines.join("\n");
      expect(log).toContain("token is ***");
      expect(log).toContain("inline ***");
      expect(log).toContain("second line alone: ***");
      expect(log).toContain('json: {"t":"***"}');
      for (const leaked of [
        token,
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "q83jf9a0Z",
        "BEGIN KEY",
        "global-token",
      ]) {
        expect(log).not.toContain(leaked);
      }
      expect(log).not.toContain(Buffer.from(`${token}\n`).toString("base64").replace(/=+$/, "").slice(0, -1));
    } finally {
      await store.close();
    }
  }, 60_000);
});
