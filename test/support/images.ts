// Small images for registry tests: each call builds a distinct image (its own label, so its own digest) on
// slipway/busybox:latest and pushes it under the given tags.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine, RegistryAuth } from "../../src/engines/index.js";

export const baseImage = "slipway/busybox:latest";

/** Builds an image labelled `label` and pushes `repository:tag` for each tag; the pushed digest. */
export async function pushTestImage(
  engine: Engine,
  repository: string,
  tags: string[],
  label: string,
  auth?: RegistryAuth,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-image-"));
  try {
    writeFileSync(
      join(dir, "Dockerfile"),
      // The COPY makes a layer: BuildKit gives a metadata-only image its base image's creation time, and
      // callers order these images by when they were built.
      `FROM ${baseImage}\nLABEL io.slipway.test=${JSON.stringify(label)}\nCOPY label.txt /label.txt\n`,
    );
    writeFileSync(join(dir, "label.txt"), label);
    const refs = tags.map((t) => `${repository}:${t}`);
    await engine.buildImage({ context: dir, tags: refs });
    let digest = "";
    for (const ref of refs) digest = (await engine.pushImage(ref, { auth })).digest ?? digest;
    for (const ref of refs) await engine.removeImage(ref, { force: true });
    return digest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
