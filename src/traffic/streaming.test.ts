import { createHash } from "node:crypto";
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeRouter, type Router } from "./index.js";
import { type Backend, sleep, startBackend } from "./testing.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(
  handler: Parameters<typeof startBackend>[1],
): Promise<{ backend: Backend; router: Router }> {
  const backend = await startBackend("a", handler);
  cleanups.push(() => backend.close());
  const router = await createNodeRouter({ listen: { host: "127.0.0.1", port: 0 }, name: "svc" });
  cleanups.push(() => router.close({ timeoutMs: 1000 }));
  router.configure({ backends: { v1: [{ id: "a", url: backend.url }] }, routes: { weights: { v1: 100 } } });
  return { backend, router };
}

const MB = 1024 * 1024;

describe("streaming through the router", () => {
  it("passes a 50 MB response without buffering it: the backend waits for a slow reader", async () => {
    const block = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    const { router } = await setup((_req, res) => {
      res.writeHead(200, { "content-length": 50 * MB });
      const pump = () => {
        while (written < 50 * MB) {
          written += block.length;
          if (!res.write(block)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const rssBefore = process.memoryUsage().rss;
    let received = 0;
    let writtenWhenPaused = 0;
    await new Promise<void>((resolve, reject) => {
      http
        .get(router.url, (res) => {
          let paused = false;
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (!paused && received >= 5 * MB) {
              paused = true;
              res.pause();
              // While the client reads nothing, the backend must soon stall on backpressure.
              void sleep(300).then(() => {
                writtenWhenPaused = written;
                res.resume();
              });
            }
          });
          res.on("end", resolve);
          res.on("error", reject);
        })
        .on("error", reject);
    });
    const growth = process.memoryUsage().rss - rssBefore;
    expect(received).toBe(50 * MB);
    // Socket buffers and stream high-water marks on three hops: a few MB ahead, not 45.
    expect(writtenWhenPaused - 5 * MB).toBeLessThan(20 * MB);
    // Loose: 100 MB of socket reads churn through the allocator on the way (client and router share this
    // process), so RSS grows some tens of MB even without buffering; holding the body would add its 50 MB.
    expect(growth).toBeLessThan(80 * MB);
  });

  it("delivers a slowly chunked response chunk by chunk", async () => {
    const { router } = await setup((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const tick = setInterval(() => {
        res.write(`chunk ${n}\n`);
        if (++n === 5) {
          clearInterval(tick);
          res.end();
        }
      }, 80);
    });
    const arrivals: number[] = [];
    const start = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      http.get(router.url, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          arrivals.push(Date.now() - start);
          text += chunk;
        });
        res.on("end", () => resolve(text));
        res.on("error", reject);
      });
    });
    expect(body).toBe("chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
    // The first chunk arrived long before the last was written.
    expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThan(200);
  });

  it("streams a chunked 20 MB upload to the instance intact", async () => {
    const { router } = await setup((req, res) => {
      const hash = createHash("sha256");
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        hash.update(c);
      });
      req.on("end", () => res.end(JSON.stringify({ size, sha: hash.digest("hex") })));
    });
    const expected = createHash("sha256");
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(router.url, { method: "PUT" }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      let sent = 0;
      const pump = () => {
        while (sent < 20 * MB) {
          const chunk = Buffer.alloc(256 * 1024, sent % 251);
          sent += chunk.length;
          expected.update(chunk);
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(JSON.parse(reply)).toEqual({ size: 20 * MB, sha: expected.digest("hex") });
  });
});
