// A registry that accepts the connection and never answers: the client gives up after its deadline
// (per attempt) with an error naming the registry URL, instead of hanging a build forever.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient, RegistryError } from "../index.js";

describe("registry client deadline", () => {
  let server: Server;
  let host: string;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });

  it("fails each attempt after timeoutMs and names the URL", async () => {
    const client = new RegistryClient({
      host,
      credentials: null,
      attempts: 2,
      retryDelayMs: 10,
      timeoutMs: 300,
    });
    const started = Date.now();
    const err = await client.ping().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe("unreachable");
    expect((err as Error).message).toContain(`no answer from http://${host}/v2/ within 300 ms`);
  });

  it("takes its default deadline from SLIPWAY_HTTP_TIMEOUT_MS", async () => {
    const client = new RegistryClient({
      host,
      credentials: null,
      attempts: 1,
      env: { SLIPWAY_HTTP_TIMEOUT_MS: "200" },
    });
    const err = await client.ping().catch((e: unknown) => e);
    expect((err as Error).message).toContain("within 200 ms");
  });
});
