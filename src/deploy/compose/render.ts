// Printing the imported deploy section as slipway.yaml: keys in the examples' order, short collections
// on one line, the warnings as a comment at the top.
import { Document, isMap, isScalar, visit } from "yaml";
import type { Json } from "./context.js";

const serviceKeyOrder = [
  "image",
  "command",
  "replicas",
  "port",
  "publish",
  "env",
  "secrets",
  "volumes",
  "health",
  "depends_on",
  "resources",
  "restart",
  "strategy",
  "stop_timeout",
];

/** The keys of a service in the order slipway.yaml's examples use. */
export function order(service: Json): Json {
  const keys = Object.keys(service).sort((a, b) => serviceKeyOrder.indexOf(a) - serviceKeyOrder.indexOf(b));
  return Object.fromEntries(keys.map((k) => [k, service[k]]));
}

export function render(config: Json, file: string, warnings: string[]): string {
  const doc = new Document(config);
  const header = [`Imported from ${file} by \`slipway deploy import-compose\`.`];
  if (warnings.length)
    header.push("Not imported as it was (review these):", ...warnings.map((w) => `- ${w}`));
  doc.commentBefore = header.map((l) => ` ${l}`).join("\n");
  // Short lists and mappings of plain values on one line; long ones (env, volumes) one item a line.
  const short = (values: unknown[]) =>
    values.every((v) => isScalar(v)) &&
    values.reduce<number>((n, v) => n + String((v as { value: unknown }).value).length + 3, 0) <= 60;
  visit(doc, {
    Seq(_, node) {
      if (short(node.items)) node.flow = true;
    },
    Map(_, node) {
      if (node.items.length <= 4 && short(node.items.flatMap((p) => [p.key, p.value]))) node.flow = true;
    },
    Scalar(_, node) {
      // YAML 1.1 readers (and people) take these for booleans or null.
      if (typeof node.value === "string" && /^(y|n|yes|no|on|off|true|false|null|~|)$/i.test(node.value))
        node.type = "QUOTE_DOUBLE";
    },
  });
  // The services mapping and each service stay in block style, however small.
  const deploy = doc.get("deploy", true);
  if (isMap(deploy)) {
    const services = deploy.get("services", true);
    if (isMap(services)) {
      services.flow = false;
      for (const pair of services.items) if (isMap(pair.value)) pair.value.flow = false;
    }
    deploy.flow = false;
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
