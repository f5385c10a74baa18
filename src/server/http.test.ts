import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { WebhookError } from "../triggers/index.js";
import { ByteBudget, readBody } from "./http.js";

describe("ByteBudget", () => {
  it("gives out bytes up to its capacity and takes each share back once", () => {
    const budget = new ByteBudget(100);
    const a = budget.tryTake(60);
    expect(a).toBeDefined();
    expect(budget.tryTake(41)).toBeUndefined();
    const b = budget.tryTake(40);
    expect(budget.inUse).toBe(100);
    a?.();
    a?.(); // a second release gives nothing back twice
    expect(budget.inUse).toBe(40);
    b?.();
    expect(budget.inUse).toBe(0);
    expect(budget.tryTake(101)).toBeUndefined();
  });
});

describe("readBody", () => {
  const app = new Hono();
  const seen: number[] = [];
  app.post("/keep", async (c) => c.text(String((await readBody(c, 1000)).length)));
  app.post("/drop", async (c) => {
    const body = await readBody(c, 1000, { keep: false, onChunk: (chunk) => seen.push(chunk.length) });
    return c.text(String(body.length));
  });
  app.onError((err, c) => c.text(err instanceof WebhookError ? String(err.status) : "500", 500));

  it("reads the body, and refuses one over the limit (declared or streamed)", async () => {
    expect(await (await app.request("/keep", { method: "POST", body: "x".repeat(999) })).text()).toBe("999");
    expect(await (await app.request("/keep", { method: "POST", body: "x".repeat(1001) })).text()).toBe("413");
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(new TextEncoder().encode("y".repeat(400)));
        controller.close();
      },
    });
    const res = await app.request("/keep", { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    expect(await res.text()).toBe("413");
  });

  it("feeds every byte to the sink and keeps none when asked", async () => {
    expect(await (await app.request("/drop", { method: "POST", body: "z".repeat(700) })).text()).toBe("0");
    expect(seen.reduce((a, b) => a + b, 0)).toBe(700);
  });
});
