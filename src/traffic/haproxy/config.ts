// The HAProxy configuration of one router, generated once when it starts and never reloaded: a
// frontend that picks a version (rules over a map, else the weights' map), a fixed set of version
// slots (an HTTP backend and a websocket backend each) with pre-allocated, disabled server slots that
// the runtime API fills in, and a log line per request to the router's UDP socket. Pure: text in,
// text out, so the tests compare it and `haproxy -c` checks it.
import { join } from "node:path";
import type { Balance } from "../types.js";

export type HaproxyLayout = {
  /** Directory holding haproxy.cfg, the admin socket and the map files. */
  dir: string;
  /** `fd@N` for a listening socket inherited from slipway, or host:port for haproxy to bind. */
  bind: string;
  versionSlots: number;
  instanceSlots: number;
  threads: number;
  balance: Balance;
  versionHeader: string | false;
  trustForwarded: boolean;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  upstreamIdleMs: number;
  /** Server maxconn (requests queue beyond it); 0 = unlimited. */
  maxSocketsPerInstance: number;
};

/** Names in the generated configuration; shared by the config, the runtime commands and the log parser. */
export const names = {
  httpBackend: (slot: number) => `ver${slot}`,
  wsBackend: (slot: number) => `wsver${slot}`,
  /** server-template numbers from 1. */
  server: (index: number) => `i${index + 1}`,
  /** The backend of "no route": no servers, so HAProxy answers 503. */
  none: "none",
  counter: "wrr_counter",
  /** The in-memory ring the request log lines go to; slipway follows it on the admin socket. */
  ring: "requests",
} as const;

export const files = {
  config: (dir: string) => join(dir, "haproxy.cfg"),
  socket: (dir: string) => join(dir, "admin.sock"),
  /** Raw request headers (req.hdrs) → backend name, regex keys in rule order: the first match wins. */
  rules: (dir: string) => join(dir, "rules.map"),
  /**
   * `rules on|off`: skips the rules' regexes altogether when there are none; `single <backend>`: the
   * one backend all weight goes to (no per-request counter then), or `-` when the weights split.
   */
  flags: (dir: string) => join(dir, "flags.map"),
  /** 0..WEIGHT_SLOTS-1 → backend name: the weighted round-robin, one slot per request. */
  weights: (dir: string) => join(dir, "weights.map"),
  /** HTTP backend name → version (the version header and the log line). */
  versions: (dir: string) => join(dir, "versions.map"),
  watchdog: (dir: string) => join(dir, "watchdog.lua"),
} as const;

/** The weights' resolution: 1000 slots, so 0.1%. */
export const WEIGHT_SLOTS = 1000;

/** Initial contents of the map files (the runtime API then edits them in memory only). */
export function initialMaps(dir: string): Record<string, string> {
  const weights = Array.from({ length: WEIGHT_SLOTS }, (_, i) => `${i} ${names.none}\n`).join("");
  return {
    [files.rules(dir)]: "",
    [files.flags(dir)]: `rules off\nsingle ${names.none}\n`,
    [files.weights(dir)]: weights,
    [files.versions(dir)]: "",
  };
}

/**
 * Exits haproxy when the process that started it is gone (its parent pid changes when it is
 * reparented), so a crashed or SIGKILLed slipway leaves no proxy behind; checked every second. And
 * the log marker command that the figures use to know they have read every request's log line.
 */
export const watchdogLua = `-- slipway: stop when the owner process is gone.
local function parent()
  local f = io.open("/proc/self/stat", "r")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s:match("%) %S+ (%d+)")
end
local owner = parent()
core.register_task(function()
  while true do
    core.sleep(1)
    if parent() ~= owner then
      core.Alert("slipway: owner process gone, exiting")
      os.exit(0)
    end
  end
end)
-- slipway: \`slipway mark <id>\` writes, into the request log ring, the requests each backend has
-- finished so far (sessions total minus current), then an end line. Lines reach the ring in order, so
-- once slipway has read the end line it has read every log line those requests wrote: a request
-- counted here with no log line was never logged (see figures.ts).
core.register_cli({"slipway", "mark"}, "slipway mark <id>: log the finished requests per backend", function(...)
  local id = select(4, ...) or "0"
  for name, be in pairs(core.backends) do
    local s = be:get_stats()
    local stot = tonumber(s.stot) or 0
    if stot > 0 then
      core.log(core.info, "slw-mark " .. id .. " " .. name .. " " .. (stot - (tonumber(s.scur) or 0)))
    end
  end
  core.log(core.info, "slw-mark-end " .. id)
end)
`;

const ms = (n: number) => `${Math.max(1, Math.round(n))}ms`;

export function haproxyConfig(l: HaproxyLayout): string {
  const balance = l.balance === "round-robin" ? "roundrobin" : "leastconn";
  const serverOptions = [
    "disabled",
    // A TCP check only runs for servers in use; with `observe layer4` one refused connection marks
    // the server down at once (it is then skipped until a check succeeds), like the Node router.
    "check inter 1s fastinter 500ms downinter 500ms rise 1 fall 1 observe layer4 error-limit 1 on-error mark-down",
    `pool-purge-delay ${ms(l.upstreamIdleMs)}`,
    l.maxSocketsPerInstance > 0 ? `maxconn ${l.maxSocketsPerInstance}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const backends: string[] = [];
  for (let v = 0; v < l.versionSlots; v++) {
    for (const name of [names.httpBackend(v), names.wsBackend(v)]) {
      backends.push(
        `backend ${name}`,
        `  balance ${balance}`,
        `  server-template i 1-${l.instanceSlots} 127.0.0.1:1 ${serverOptions}`,
        "",
      );
    }
  }
  const forwarded = l.trustForwarded
    ? [
        "  http-request set-header X-Forwarded-Proto http unless { req.hdr(x-forwarded-proto) -m found }",
        "  http-request set-header X-Forwarded-Host %[req.hdr(host)] unless { req.hdr(x-forwarded-host) -m found }",
      ]
    : [
        "  http-request set-header X-Forwarded-Proto http",
        "  http-request set-header X-Forwarded-Host %[req.hdr(host)]",
      ];
  const versionHeader = l.versionHeader
    ? [`  http-after-response set-header ${l.versionHeader} %[var(txn.ver)] if { var(txn.ver) -m found }`]
    : [];
  return [
    "# Generated by slipway (src/traffic/haproxy/config.ts); changed at run time through the admin socket only.",
    "global",
    `  nbthread ${l.threads}`,
    `  stats socket ${files.socket(l.dir)} mode 600 level admin`,
    // The log follower's admin connection idles between requests; it reconnects if this expires.
    "  stats timeout 24h",
    `  lua-load ${files.watchdog(l.dir)}`,
    // Where the Lua marker (core.log) writes: the request log ring, in order with the request lines.
    `  log ring@${names.ring} len 512 format raw local0`,
    "",
    // Request log lines go to a ring in memory that slipway reads as a stream (`show events -w`): many
    // lines per read, where a UDP socket costs a datagram and a receive per request (measured: about
    // 15 µs of slipway's CPU per request for UDP, see docs/internals/router.md).
    `ring ${names.ring}`,
    "  format raw",
    "  maxlen 512",
    "  size 8388608",
    "",
    "defaults",
    "  mode http",
    "  option http-keep-alive",
    // Sends each piece of a response as it comes instead of waiting up to ~200 ms for more (small
    // chunks of a stream, server-sent events); its cost in the router benchmark was within noise.
    "  option http-no-delay",
    "  http-reuse safe",
    `  timeout connect ${ms(l.connectTimeoutMs)}`,
    `  timeout server ${ms(l.responseTimeoutMs)}`,
    "  timeout client 1h",
    "  timeout http-request 60s",
    "  timeout http-keep-alive 5s",
    "  timeout tunnel 24h",
    "  timeout queue 60s",
    // The retry rule: a connection that could not be made is retried once on another server for any
    // method; an empty response (reset before any byte) only for idempotent requests without a body.
    "  retries 1",
    "  option redispatch 1",
    "  retry-on conn-failure empty-response",
    "",
    `backend ${names.counter}`,
    "  stick-table type integer size 1 store gpc0",
    "",
    "frontend service",
    `  bind ${l.bind}`,
    `  log ring@${names.ring} len 512 format raw local0`,
    "  option dontlognull",
    // One line per request: version, backend, server, status, termination state, retries, and the time
    // from the request's headers to the response's end in µs (%Ta has only milliseconds).
    '  log-format "slw %[var(txn.ver)] %b %s %ST %ts %rc %[date(0,us),sub(txn.t0)]"',
    "  http-request set-var(txn.t0) date(0,us)",
    "  option forwardfor",
    ...forwarded,
    "  acl retry_ok method GET HEAD OPTIONS TRACE PUT DELETE",
    "  acl has_body req.hdr_val(content-length) gt 0",
    "  acl has_body req.hdr_cnt(transfer-encoding) gt 0",
    "  http-request disable-l7-retry if !retry_ok or has_body",
    `  http-request set-var(txn.be) req.hdrs,map_reg(${files.rules(l.dir)}) if { str(rules),map(${files.flags(l.dir)}) -m str on }`,
    `  http-request set-var(txn.be) str(single),map(${files.flags(l.dir)}) unless { var(txn.be) -m found }`,
    `  http-request track-sc0 int(0) table ${names.counter} if { var(txn.be) -m str -- - }`,
    `  http-request set-var(txn.be) sc0_inc_gpc0,mod(${WEIGHT_SLOTS}),map(${files.weights(l.dir)}) if { var(txn.be) -m str -- - }`,
    `  http-request set-var(txn.ver) var(txn.be),map(${files.versions(l.dir)}) if { var(txn.be) -m found }`,
    ...versionHeader,
    "  use_backend ws%[var(txn.be)] if { req.hdr(upgrade) -m found } { var(txn.ver) -m found }",
    "  use_backend %[var(txn.be)] if { var(txn.ver) -m found }",
    `  default_backend ${names.none}`,
    "",
    `backend ${names.none}`,
    "",
    ...backends,
  ].join("\n");
}
