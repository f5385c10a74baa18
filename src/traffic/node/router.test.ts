// What only the Node router does (conformance.test.ts holds what both routers do).
import { afterEach, describe, expect, it } from "vitest";
import { request, TrafficBed } from "../testing.js";

const bed = new TrafficBed();
afterEach(() => bed.cleanup());

describe("Node router", () => {
  it("strips the headers the client's Connection header names (hop-by-hop; HAProxy forwards them)", async () => {
    const a = await bed.backend("a");
    const r = await bed.router("node");
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    const reply = await request(r.url, {
      headers: { connection: "keep-alive, x-secret", "x-secret": "hop" },
    });
    const seen = JSON.parse(reply.body);
    expect(seen.headers["x-secret"]).toBeUndefined();
    expect(seen.headers).toMatchObject({ "x-forwarded-for": "127.0.0.1" });
  });

  it("answers 502 to a POST its instance reset before any response, and counts it failed", async () => {
    const x = await bed.backend("x", (req) => req.socket.destroy());
    const b = await bed.backend("b");
    const r = await bed.router("node", { balance: "round-robin" });
    r.configure({
      backends: {
        v1: [
          { id: "x", url: x.url },
          { id: "b", url: b.url },
        ],
      },
      routes: { weights: { v1: 100 } },
    });
    expect((await request(r.url)).status).toBe(200);
    const post = await request(r.url, { method: "POST", body: "pay once" });
    expect(post.status).toBe(502);
    expect(post.headers["x-slipway-version"]).toBe("v1");
    expect(x.hits).toBe(2);
    expect(r.stats("v1")).toMatchObject({ requests: 2, retries: 1, failed: 1 });
  });
});
