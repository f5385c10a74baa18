// The run page's protected environments: each gate of the attempt shown, what it waits for and who may
// approve, and — when the server says this reader may decide it (canApprove/canReject, computed by the
// same rules POST …/approve and …/reject apply) — Approve and Reject (with an optional reason). The
// page judges no rule itself; a forged decision is refused by the server all the same.
import { useState } from "preact/hooks";
import { ApiError, post } from "../api.js";
import { ActionButton, StateBadge } from "../components.js";
import { ago } from "../format.js";
import { html } from "../html.js";
import type { Job } from "../model.js";

export type GateView = {
  id: number;
  attempt: number;
  environment: string;
  status: "pending" | "approved" | "rejected" | "cancelled";
  mayApprove: string | null;
  waitUntil: number | null;
  decidedBy: string | null;
  decidedAt: number | null;
  reason: string | null;
  url: string | null;
  canApprove?: boolean;
  canReject?: boolean;
  approveRefusal?: string;
};

const gateState: Record<GateView["status"], string> = {
  pending: "waiting",
  approved: "success",
  rejected: "failure",
  cancelled: "cancelled",
};

export function Approvals(p: {
  runId: number;
  attempt: number;
  gates: GateView[];
  jobs: Job[];
  onDecided: () => void;
}) {
  const gates = p.gates.filter((g) => g.attempt === p.attempt);
  if (gates.length === 0) return null;
  return html`<section class="approvals" data-testid="approvals">
    <h2>Environments</h2>
    ${gates.map((g) => html`<${GateRow} key=${g.id} gate=${g} runId=${p.runId} jobs=${p.jobs} onDecided=${p.onDecided} />`)}
  </section>`;
}

function GateRow({
  gate: g,
  runId,
  jobs,
  onDecided,
}: {
  gate: GateView;
  runId: number;
  jobs: Job[];
  onDecided: () => void;
}) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState("");
  const waiting = jobs.filter(
    (j) => j.status === "waiting" && (j.reason ?? "").startsWith(`waiting for environment ${g.environment}:`),
  );
  const decide = (verb: "approve" | "reject") => async () => {
    setError("");
    try {
      const body: Record<string, string> = { environment: g.environment };
      if (verb === "reject" && reason.trim()) body.reason = reason.trim();
      await post(`/api/v1/runs/${runId}/${verb}`, body);
      setReason("");
    } catch (err) {
      // Shown beside the buttons (e.g. another reviewer decided first); the run is re-read either way.
      setError(err instanceof ApiError ? err.message : String(err));
    }
    onDecided();
  };
  const pending = g.status === "pending";
  return html`<div class="gate" data-gate=${g.environment} data-status=${g.status}>
    <div class="gate-head">
      <${StateBadge} state=${gateState[g.status] ?? g.status} />
      <strong>${g.environment}</strong>
      ${
        pending
          ? html`<span class="sub">${g.mayApprove ? "waiting for approval" : "waiting for its timer"}
            ${waiting.length > 0 && html` · jobs: ${waiting.map((j) => j.name).join(", ")}`}</span>`
          : g.decidedBy &&
            html`<span class="sub" data-testid="decision">${g.status} by ${g.decidedBy}${g.decidedAt ? ` ${ago(g.decidedAt)}` : ""}</span>`
      }
    </div>
    ${g.mayApprove && html`<p class="sub">May approve: <span data-testid="may-approve">${g.mayApprove}</span></p>`}
    ${pending && g.waitUntil && html`<p class="sub">Wait timer until ${new Date(g.waitUntil).toLocaleString()}</p>`}
    ${g.reason && html`<p class="reason" data-testid="gate-reason">${g.reason}</p>`}
    ${
      pending &&
      (g.canApprove || g.canReject) &&
      html`<div class="gate-actions">
        ${g.canApprove && html`<${ActionButton} name="approve" label=${`Approve ${g.environment}`} action=${decide("approve")} />`}
        ${
          g.canReject &&
          html`<input type="text" name="reason" maxlength="500" autocomplete="off" placeholder="Reason (optional)"
            aria-label="reason for rejecting" value=${reason}
            onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} />
          <${ActionButton} name="reject" kind="danger" label="Reject" action=${decide("reject")} />`
        }
      </div>`
    }
    ${pending && !g.canApprove && g.approveRefusal && html`<p class="hint" data-testid="cannot-approve">${g.approveRefusal}</p>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </div>`;
}
