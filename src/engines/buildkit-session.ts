// A BuildKit session: the side channel over which the Docker Engine's BuildKit asks the client for what
// a build needs but must not be part of the context — build secrets (`RUN --mount=type=secret`) and
// registry credentials (for `cache_from` images). The engine upgrades `POST /session` to HTTP/2 and then
// acts as the gRPC client; slipway serves the methods it advertises in the upgrade's headers.
//
// Invariants: a secret's value only ever travels over this connection (never in the build context, the
// query string, build args or logs); a secret the Dockerfile asks for that was not given is refused (the
// build fails naming it) rather than answered empty; the session is closed when the build ends.
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";
import type Dockerode from "dockerode";

/** What the session hands BuildKit: secrets by id, and registry credentials by host. */
export type SessionProviders = {
  secrets?: Record<string, Buffer>;
  credentials?: (host: string) => { username: string; password: string } | undefined;
};

export type BuildKitSession = { id: string; close(): void };

// The three services, as protobuf JSON descriptors (field names and numbers as in BuildKit's and gRPC's
// .proto files), so that nothing has to be read from disk at run time.
const descriptors = {
  nested: {
    moby: {
      nested: {
        buildkit: {
          nested: {
            secrets: {
              nested: {
                v1: {
                  nested: {
                    Secrets: {
                      methods: {
                        GetSecret: { requestType: "GetSecretRequest", responseType: "GetSecretResponse" },
                      },
                    },
                    GetSecretRequest: {
                      fields: {
                        ID: { type: "string", id: 1 },
                        annotations: { keyType: "string", type: "string", id: 2 },
                      },
                    },
                    GetSecretResponse: { fields: { data: { type: "bytes", id: 1 } } },
                  },
                },
              },
            },
          },
        },
        filesync: {
          nested: {
            v1: {
              nested: {
                Auth: {
                  methods: {
                    Credentials: { requestType: "CredentialsRequest", responseType: "CredentialsResponse" },
                  },
                },
                CredentialsRequest: { fields: { Host: { type: "string", id: 1 } } },
                CredentialsResponse: {
                  fields: { Username: { type: "string", id: 1 }, Secret: { type: "string", id: 2 } },
                },
              },
            },
          },
        },
      },
    },
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                Health: {
                  methods: {
                    Check: { requestType: "HealthCheckRequest", responseType: "HealthCheckResponse" },
                  },
                },
                HealthCheckRequest: { fields: { service: { type: "string", id: 1 } } },
                HealthCheckResponse: { fields: { status: { type: "int32", id: 1 } } },
              },
            },
          },
        },
      },
    },
  },
};

type ServiceDefinition = grpc.ServiceDefinition;
type Loaded = {
  secrets: ServiceDefinition;
  auth: ServiceDefinition;
  health: ServiceDefinition;
};

let loaded: Loaded | undefined;
function services(): Loaded {
  if (loaded) return loaded;
  const pkg = grpc.loadPackageDefinition(
    fromJSON(descriptors as Parameters<typeof fromJSON>[0], { keepCase: true, defaults: true }),
  );
  const ns = pkg as unknown as {
    moby: {
      buildkit: { secrets: { v1: { Secrets: { service: ServiceDefinition } } } };
      filesync: { v1: { Auth: { service: ServiceDefinition } } };
    };
    grpc: { health: { v1: { Health: { service: ServiceDefinition } } } };
  };
  loaded = {
    secrets: ns.moby.buildkit.secrets.v1.Secrets.service,
    auth: ns.moby.filesync.v1.Auth.service,
    health: ns.grpc.health.v1.Health.service,
  };
  return loaded;
}

/** The full gRPC method names BuildKit checks a session for before calling it. */
export const sessionMethods = [
  "/moby.buildkit.secrets.v1.Secrets/GetSecret",
  "/moby.filesync.v1.Auth/Credentials",
  "/grpc.health.v1.Health/Check",
] as const;

/**
 * Opens a session on the engine. The returned id goes into the build's `session` parameter; `close()`
 * ends it (call it when the build stream ends, whatever the outcome).
 */
export async function openBuildKitSession(
  docker: Dockerode,
  providers: SessionProviders,
  name = "slipway",
): Promise<BuildKitSession> {
  const id = randomUUID();
  const socket = await new Promise<Duplex>((resolvePromise, reject) => {
    docker.modem.dial(
      {
        method: "POST",
        path: "/session",
        hijack: true,
        headers: {
          Upgrade: "h2c",
          "X-Docker-Expose-Session-Uuid": id,
          "X-Docker-Expose-Session-Name": name,
          "X-Docker-Expose-Session-Sharedkey": "",
          // One header line per method: the engine reads them all.
          "X-Docker-Expose-Session-Grpc-Method": [...sessionMethods],
        },
        statusCodes: { 101: true, 200: true, 400: "bad parameter", 500: "server error" },
      } as unknown as Parameters<typeof docker.modem.dial>[0],
      (err: unknown, socket: unknown) => (err ? reject(err) : resolvePromise(socket as Duplex)),
    );
  });
  const { secrets, auth, health } = services();
  const server = new grpc.Server();
  server.addService(secrets, {
    GetSecret(
      call: grpc.ServerUnaryCall<{ ID: string }, unknown>,
      callback: grpc.sendUnaryData<{ data: Buffer }>,
    ) {
      const value = providers.secrets?.[call.request.ID];
      if (value === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `secret ${call.request.ID} not found` });
        return;
      }
      callback(null, { data: value });
    },
  });
  server.addService(auth, {
    Credentials(
      call: grpc.ServerUnaryCall<{ Host: string }, unknown>,
      callback: grpc.sendUnaryData<{ Username: string; Secret: string }>,
    ) {
      const c = providers.credentials?.(call.request.Host);
      callback(null, c ? { Username: c.username, Secret: c.password } : { Username: "", Secret: "" });
    },
  });
  server.addService(health, {
    Check(_call: unknown, callback: grpc.sendUnaryData<{ status: number }>) {
      callback(null, { status: 1 }); // SERVING
    },
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  injector.injectConnection(socket);
  let closed = false;
  return {
    id,
    close() {
      if (closed) return;
      closed = true;
      server.forceShutdown();
      socket.destroy();
    },
  };
}
