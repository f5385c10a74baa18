// Free ports for instances that slipway starts itself: the kernel picks one (bind :0), we read it and let
// go. Another process could take it before the instance binds it; the readiness probe then fails and the
// deploy rolls back, which is rare enough not to warrant a retry loop here.
import { createServer } from "node:net";

export function allocatePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error(`no port was allocated on ${host}`))));
    });
  });
}
