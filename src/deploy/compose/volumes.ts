// volumes: named volumes and bind mounts (relative to slipway.yaml) in slipway's short form; anonymous,
// tmpfs and other kinds of volume are warned about.
import { dirname } from "node:path";
import { volumeNamePattern } from "../../config/index.js";
import { type ImportContext, isRecord, type Path } from "./context.js";

export function mapVolumes(ctx: ImportContext, name: string, volumes: unknown): string[] | undefined {
  if (!Array.isArray(volumes)) return undefined;
  const dir = dirname(ctx.file);
  let warnedDir = false;
  return volumes.flatMap((v, i): string[] => {
    const path: Path = ["services", name, "volumes", i];
    let source: string | undefined;
    let target: string | undefined;
    let readOnly = false;
    let type: string;
    if (typeof v === "string") {
      const text = ctx.text(path, v, name);
      const parts = text.split(":");
      if (parts.length === 1) {
        ctx.warn(
          path,
          `service '${name}': anonymous volume ${text} is not supported (ignored); give it a name`,
        );
        return [];
      }
      [source, target] = parts;
      const options = (parts[2] ?? "").split(",").filter(Boolean);
      readOnly = options.includes("ro");
      const other = options.filter((o) => o !== "ro" && o !== "rw");
      if (other.length)
        ctx.warn(path, `service '${name}': volume options ${other.join(",")} are not supported (ignored)`);
      type = /^[./~]/.test(source) ? "bind" : "volume";
    } else if (isRecord(v)) {
      type = String(v.type ?? "volume");
      source = typeof v.source === "string" ? ctx.text([...path, "source"], v.source, name) : undefined;
      target = typeof v.target === "string" ? v.target : undefined;
      readOnly = v.read_only === true;
      for (const k of Object.keys(v))
        if (!["type", "source", "target", "read_only"].includes(k))
          ctx.warn([...path, k], `service '${name}': volume setting ${k} is not supported (ignored)`, true);
      if (type === "bind" && source && !/^[./~]/.test(source)) source = `./${source}`;
    } else return [];
    if (type !== "volume" && type !== "bind") {
      ctx.warn(path, `service '${name}': ${type} volumes are not supported (ignored)`);
      return [];
    }
    if (!source || !target) {
      ctx.warn(
        path,
        `service '${name}': a volume without a source is anonymous, which is not supported (ignored)`,
      );
      return [];
    }
    if (source.startsWith("~")) {
      ctx.warn(
        path,
        `service '${name}': ${source} (~ is not expanded): use a path relative to slipway.yaml or absolute (ignored)`,
      );
      return [];
    }
    if (type === "volume" && !volumeNamePattern.test(source)) {
      ctx.warn(path, `service '${name}': volume name '${source}' is not valid in slipway (ignored)`);
      return [];
    }
    if (type === "bind" && !source.startsWith("/") && dir !== "." && !warnedDir) {
      warnedDir = true;
      ctx.warn(
        path,
        `service '${name}': bind paths are relative to slipway.yaml's directory, compose's were relative to ${dir}`,
      );
    }
    return [`${source}:${target}${readOnly ? ":ro" : ""}`];
  });
}
