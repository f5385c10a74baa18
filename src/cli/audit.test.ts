// `slipway audit`'s table: every entry on one line, whatever its text holds. The server refuses control
// characters in what it audits; the table does not rely on it, so an escape sequence or a newline in an
// entry is shown quoted, never sent to the terminal as it is.
import { describe, expect, it } from "vitest";
import { auditRows } from "./audit.js";

describe("audit rows", () => {
  it("prints plain entries as they are, the detail as key=value", () => {
    const [row] = auditRows([
      {
        id: 7,
        at: Date.UTC(2026, 11, 7, 1, 2, 3),
        actor: "ada",
        action: "repo.add",
        subject: "acme/web",
        repo: "acme/web",
        env: null,
        detail: { url: "https://git.example/acme/web.git", branch: "main", pollIntervalS: null },
      },
    ]);
    expect(row).toEqual([
      "7",
      "2026-12-07 01:02:03",
      "ada",
      "repo.add",
      "acme/web",
      "acme/web",
      "url=https://git.example/acme/web.git branch=main pollIntervalS=null",
    ]);
  });

  it("quotes text holding an escape sequence or a newline", () => {
    const [row] = auditRows([
      {
        id: 8,
        at: 0,
        actor: "mallory\u001b]0;pwned\u0007",
        action: "run.reject",
        subject: "run 3",
        repo: "acme/web",
        env: "prod",
        detail: { reason: "ok\n\u001b[2Jfake line" },
      },
    ]);
    expect(row[2]).toBe('"mallory\\u001b]0;pwned\\u0007"');
    expect(row[5]).toBe("acme/web/prod");
    expect(row[6]).toBe('reason="ok\\n\\u001b[2Jfake line"');
    expect(row.join(" ")).not.toMatch(/[\u0000-\u001f]/);
  });
});
