// The slipway.yaml `slipway init` writes: what was detected as YAML, each section preceded by a comment on
// what it is for and where its keys are documented, and examples (commented out) for what was not found.
// Pure: text in, text out; init.test.ts loads the result through the config loader.
import { stringify } from "yaml";
import type { Detection } from "./init-detect.js";

export const schemaLine = "# yaml-language-server: $schema=./node_modules/slipway/schema/slipway.schema.json";

const yamlOf = (data: unknown) => stringify(data, { lineWidth: 0 });
const comment = (lines: string[]) => lines.map((l) => (l ? `# ${l}` : "#")).join("\n");
/** YAML as comments: an example the user can uncomment. */
const commentedOut = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => `# ${l}`)
    .join("\n");

function header(d: Detection): string {
  const lines = [
    `slipway.yaml for ${d.app}, written by \`slipway init\`. Every key is explained in slipway's`,
    "docs/slipway-yaml.md (build, notify) and docs/deploy.md (deploy). Check this file with",
    "`slipway config validate`; `slipway config show` prints it with the defaults filled in.",
  ];
  if (d.workflows.length)
    lines.push(
      "",
      `The workflows (${d.workflows.join(", ")}) need nothing here: slipway runs`,
      "them as they are, with `slipway run` on this machine or on a slipway server.",
    );
  if (!d.dockerfiles.length && !d.compose && !d.start)
    lines.push(
      "",
      "No Dockerfile, compose file or package.json start script was found, so every section below is an",
      "example: uncomment `build` to build images, `deploy` to run services, and fill in your own values.",
    );
  return `${schemaLine}\n#\n${comment(lines)}\n`;
}

function buildSection(d: Detection): string {
  const intro = [
    "build: the images `slipway build` builds (those whose files changed since the last release tag) and",
    "pushes. An image without a registry host gets `registry` prepended: set it to the registry you push to.",
  ];
  if (!d.dockerfiles.length) {
    const example = {
      build: {
        registry: "registry.example.com:5000",
        services: { web: { context: ".", image: `${d.app}-web` } },
      },
    };
    return `${comment(intro)}\n${commentedOut(yamlOf(example))}\n`;
  }
  const services = Object.fromEntries(
    d.dockerfiles.map((f) => [f.service, { context: f.context, dockerfile: f.dockerfile, image: f.image }]),
  );
  const body = yamlOf({ build: { services } }).replace(
    "build:\n",
    "build:\n  # registry: registry.example.com:5000\n",
  );
  return `${comment([...intro, "One service per Dockerfile found (context: its folder, relative to this file)."])}\n${body}`;
}

const deployIntro = [
  "deploy: the services `slipway deploy` runs (a docker image or a local command), health-gated, behind",
  "slipway's router: `port` is where a service listens, `publish` the port the router serves it on.",
];

function deploySection(d: Detection): string {
  if (d.compose) {
    const imported = d.compose.import;
    const yaml = yamlOf(imported.config);
    const lines = [...deployIntro, `Imported from ${d.compose.file}.`];
    if (d.compose.warnings.length)
      lines.push("Not imported as it was (review these):", ...d.compose.warnings.map((w) => `- ${w}`));
    return `${comment(lines)}\n${yaml}`;
  }
  if (d.start && !d.dockerfiles.length) {
    const lines = [
      ...deployIntro,
      "From package.json's start script, run as a process on this machine (npm start). Set `port` to",
      "the port it listens on (slipway gives it in PORT) and `publish` to route traffic to it.",
    ];
    const body = yamlOf({ deploy: { app: d.app, services: { web: { command: "npm start" } } } });
    return `${comment(lines)}\n${body}      # port: 3000\n      # publish: 8080\n`;
  }
  const image = d.dockerfiles[0]?.image ?? `${d.app}-web`;
  const example = { deploy: { app: d.app, services: { web: { image, port: 8080, publish: 80 } } } };
  return `${comment(deployIntro)}\n${commentedOut(yamlOf(example))}\n`;
}

const notifySection = comment([
  "notify: Slack messages and signed webhooks on run and deploy events; see docs/slipway-yaml.md and",
  "docs/notifications.md.",
]);

/** The commented slipway.yaml for what `detectProject` found. */
export function renderConfig(d: Detection): string {
  return [header(d), buildSection(d), deploySection(d), `${notifySection}\n`].join("\n");
}

/** The sections the rendered file sets (not those only given as commented examples). */
export function writtenSections(d: Detection): string[] {
  const sections: string[] = [];
  if (d.dockerfiles.length) sections.push("build");
  if (d.compose || (d.start && !d.dockerfiles.length)) sections.push("deploy");
  return sections;
}
