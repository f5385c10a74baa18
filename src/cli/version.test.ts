// `slipway version`: slipway's own version, and with --json what a bug report needs besides.
import { expect, it, vi } from "vitest";
import { slipwayVersion } from "../lib/version.js";
import { main } from "./program.js";

async function stdoutOf(...args: string[]): Promise<string> {
  const out: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  try {
    expect(await main(["node", "slipway", ...args])).toBe(0);
  } finally {
    write.mockRestore();
  }
  return out.join("");
}

it("prints slipway's version, and with --json the Node.js version and platform", async () => {
  expect(await stdoutOf("version")).toBe(`slipway ${slipwayVersion}\n`);
  expect(JSON.parse(await stdoutOf("version", "--json"))).toEqual({
    version: slipwayVersion,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
  });
  expect(await stdoutOf("--version")).toBe(`${slipwayVersion}\n`);
});
