// Free loopback ports for servers a test starts (or that a child process binds).
import { createServer } from "node:net";

/** A port nothing listens on now: the kernel's pick, released again for the caller to bind. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
