// Settings, by role: repositories (viewer), secret names (developer), the audit log (admin), tokens and
// runners (admin), notification deliveries (viewer). What a role cannot read is not offered; the server
// refuses it anyway. An admin also adds repositories and rotates their webhook secrets (add-repo.ts).
import { useEffect, useState } from "preact/hooks";
import { get, type Identity, type Role, roleAllows } from "../api.js";
import { ago } from "../format.js";
import { html } from "../html.js";
import { AddRepoForm, type Issued, RotateSecret, SecretOnce } from "./add-repo.js";

type Section = { key: string; label: string; role: Role; path: string; list: string; columns: string[] };
const sections: Section[] = [
  {
    key: "repos",
    label: "Repositories",
    role: "viewer",
    path: "/api/v1/repos",
    list: "repos",
    columns: ["name", "url", "branch", "webhook"],
  },
  {
    key: "secrets",
    label: "Secrets",
    role: "developer",
    path: "/api/v1/secrets",
    list: "secrets",
    columns: ["name", "scope", "updatedAt", "updatedBy"],
  },
  {
    key: "audit",
    label: "Audit log",
    role: "admin",
    path: "/api/v1/audit",
    list: "audit",
    columns: ["at", "actor", "action", "subject", "repo", "env"],
  },
  {
    key: "tokens",
    label: "Tokens",
    role: "admin",
    path: "/api/v1/tokens",
    list: "tokens",
    columns: ["id", "name", "role", "lastUsedAt", "revokedAt"],
  },
  {
    key: "runners",
    label: "Runners",
    role: "admin",
    path: "/api/v1/runners",
    list: "runners",
    columns: ["name", "labels", "lastHeartbeatAt", "disabledAt"],
  },
  {
    key: "notifications",
    label: "Notification deliveries",
    role: "viewer",
    path: "/api/v1/notifications/deliveries",
    list: "deliveries",
    columns: ["id", "channel", "eventType", "status", "attempts", "lastError"],
  },
];

function cell(key: string, v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number" && /At$|^at$/.test(key)) return ago(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function SettingsPage({ path, me }: { path: string; me: Identity }) {
  const mine = sections.filter((s) => roleAllows(me.role, s.role));
  const key = path.split("/")[2] ?? mine[0]?.key;
  const section = mine.find((s) => s.key === key) ?? mine[0];
  const [rows, setRows] = useState<Record<string, unknown>[] | undefined>(undefined);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  // A webhook secret just issued: in this state only, gone with the section or a reload.
  const [issued, setIssued] = useState<Issued | undefined>(undefined);
  useEffect(() => {
    setIssued(undefined);
    setRows(undefined);
  }, [section.key]);
  const repoAdmin = section.key === "repos" && roleAllows(me.role, "admin");
  const show = (r: Issued) => {
    setIssued(r);
    setTick((t) => t + 1);
  };
  useEffect(() => {
    setError("");
    get<Record<string, unknown>>(section.path).then(
      (r) => {
        let list = (r[section.list] ?? []) as Record<string, unknown>[];
        // Where a repository's webhooks go (its secret is shown once, when it is added).
        if (section.key === "repos")
          list = list.map((repo) => ({ ...repo, webhook: `${location.origin}/hooks/github/${repo.name}` }));
        setRows(list);
      },
      (err: Error) => setError(err.message),
    );
  }, [section.key, tick]);
  return html`<main class="settings">
    <nav class="side">
      ${mine.map((s) => html`<a href=${`/settings/${s.key}`} class=${s === section ? "active" : ""}>${s.label}</a>`)}
    </nav>
    <div>
      <h1>${section.label}</h1>
      ${error && html`<p class="error">${error}</p>`}
      ${repoAdmin && issued && html`<${SecretOnce} issued=${issued} onDone=${() => setIssued(undefined)} />`}
      ${
        rows &&
        html`<table data-testid=${`settings-${section.key}`}>
        <thead><tr>${section.columns.map((c) => html`<th>${c}</th>`)}${repoAdmin && html`<th></th>`}</tr></thead>
        <tbody>${rows.map(
          (r) =>
            html`<tr>${section.columns.map((c) => html`<td>${cell(c, r[c])}</td>`)}${
              repoAdmin && html`<td><${RotateSecret} name=${String(r.name)} onRotated=${show} /></td>`
            }</tr>`,
        )}</tbody>
      </table>`
      }
      ${repoAdmin && html`<${AddRepoForm} onAdded=${show} />`}
    </div>
  </main>`;
}
