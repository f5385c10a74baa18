// Outbound HTTP deadlines: a server that accepts and then says nothing is an error naming the URL.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "./errors.js";
import { fetchWithDeadline, HttpTimeoutError, httpTimeoutMs, shownUrl } from "./http.js";

describe("fetchWithDeadline", () => {
  let server: Server;
  let url: string;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers.
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v2/?token=abc`;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });

  it("names a URL without its credentials or query", () => {
    expect(shownUrl("https://user:secret@registry.example:5000/v2/x?token=abc")).toBe(
      "https://registry.example:5000/v2/x",
    );
  });

  it("gives up after the deadline with an error naming the URL (without its query)", async () => {
    const started = Date.now();
    const err = await fetchWithDeadline(url, {}, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpTimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    const message = (err as Error).message;
    expect(message).toMatch(/^no answer from http:\/\/127\.0\.0\.1:\d+\/v2\/ within 300 ms/);
    expect(message).not.toContain("token=abc");
  });

  it("keeps the caller's abort as the caller's", async () => {
    const own = new AbortController();
    setTimeout(() => own.abort(new Error("mine")), 50);
    await expect(fetchWithDeadline(url, { signal: own.signal }, 10_000)).rejects.toThrow("mine");
  });
});

describe("httpTimeoutMs", () => {
  it("reads SLIPWAY_HTTP_TIMEOUT_MS, 30 s by default, and refuses nonsense", () => {
    expect(httpTimeoutMs({})).toBe(30_000);
    expect(httpTimeoutMs({ SLIPWAY_HTTP_TIMEOUT_MS: "1500" })).toBe(1500);
    for (const bad of ["abc", "-1", "0", "1.5"])
      expect(() => httpTimeoutMs({ SLIPWAY_HTTP_TIMEOUT_MS: bad })).toThrow(UserError);
  });
});
