import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDataDirPrivate } from "./file-modes.js";

const root = mkdtempSync(join(tmpdir(), "slipway-modes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

describe("makeDataDirPrivate", () => {
  it("narrows an open data directory, its files and subdirectories, and says what was open", () => {
    const dir = join(root, "data");
    mkdirSync(join(dir, "mirrors"), { recursive: true });
    writeFileSync(join(dir, "slipway.db"), "x");
    writeFileSync(join(dir, "master.key"), "k", { mode: 0o600 });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "mirrors"), 0o755);
    chmodSync(join(dir, "slipway.db"), 0o644);
    writeFileSync(join(root, "elsewhere"), "y");
    chmodSync(join(root, "elsewhere"), 0o644);
    symlinkSync(join(root, "elsewhere"), join(dir, "link"));
    const opened = makeDataDirPrivate(dir);
    expect(opened).toEqual(
      expect.arrayContaining([
        `${dir} (0755)`,
        `${join(dir, "slipway.db")} (0644)`,
        `${join(dir, "mirrors")} (0755)`,
      ]),
    );
    expect(opened).toHaveLength(3);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, "slipway.db"))).toBe(0o600);
    expect(mode(join(dir, "mirrors"))).toBe(0o700);
    expect(mode(join(dir, "master.key"))).toBe(0o600);
    expect(mode(join(root, "elsewhere"))).toBe(0o644); // a link's target is not ours to change
    expect(makeDataDirPrivate(dir)).toEqual([]);
  });

  it("creates a missing data directory 0700", () => {
    const dir = join(root, "new", "data");
    expect(makeDataDirPrivate(dir)).toEqual([]);
    expect(mode(dir)).toBe(0o700);
  });
});
