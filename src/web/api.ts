// Every request of the dashboard goes through here: same-origin, with the session cookie, and on a
// state-changing request the session's CSRF token (the server refuses a cookie request without it).
export type Role = "viewer" | "developer" | "deployer" | "admin";
export type Identity = { id: number; name: string; role: Role };

const roles: Role[] = ["viewer", "developer", "deployer", "admin"];
export function roleAllows(role: Role | undefined, required: Role): boolean {
  return role !== undefined && roles.indexOf(role) >= roles.indexOf(required);
}

let csrf = "";
export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

let onUnauthorised: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onUnauthorised = f;
}

async function send(path: string, method: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.ok) return res;
  const text = await res.text();
  let message = `${res.status} ${res.statusText}`;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message;
  } catch {}
  if (res.status === 401 && path !== "/api/v1/session") onUnauthorised();
  throw new ApiError(res.status, message);
}

export async function get<T>(path: string): Promise<T> {
  return (await send(path, "GET")).json() as Promise<T>;
}

export async function post<T>(path: string, body: unknown = {}, method = "POST"): Promise<T> {
  const res = await send(path, method, body);
  return (res.status === 204 ? {} : await res.json()) as T;
}

/** A request answered in NDJSON (deploys, rollbacks): each line as it comes; the last line returned. */
export async function postStream(
  path: string,
  body: unknown,
  onLine: (line: Record<string, unknown>) => void,
): Promise<Record<string, unknown>> {
  const res = await send(path, "POST", body);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let last: Record<string, unknown> = {};
  for (;;) {
    const { done, value } = await reader.read();
    if (value) buffered += value;
    const lines = buffered.split("\n");
    buffered = done ? "" : (lines.pop() ?? "");
    for (const l of lines) {
      if (!l.trim()) continue;
      last = JSON.parse(l) as Record<string, unknown>;
      onLine(last);
    }
    if (done) return last;
  }
}

/** `path?k=v…` without empty values. */
export function withQuery(path: string, q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}
