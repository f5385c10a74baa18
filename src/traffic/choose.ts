// The choice between the two routers: which kinds this machine can run, and one constructor for both.
import { createHaproxyRouter, type HaproxyRouterOptions } from "./haproxy/router.js";
import { locateHaproxy } from "./haproxy/process.js";
import { createNodeRouter } from "./node/router.js";
import type { Router, RouterKind, RouterOptions } from "./types.js";

/** The options each kind takes: the common ones, plus HAProxy's own (binary, state directory, limits). */
export type RouterOptionsOf = { haproxy: HaproxyRouterOptions; node: RouterOptions };

export function createRouter<K extends RouterKind>(kind: K, options: RouterOptionsOf[K]): Promise<Router> {
  switch (kind) {
    case "haproxy":
      return createHaproxyRouter(options);
    case "node":
      return createNodeRouter(options);
    default:
      throw new Error(`router: unknown kind ${JSON.stringify(kind)}`);
  }
}

/**
 * The kinds this machine can run, preferred first: HAProxy when its binary is found (on PATH or in the
 * sbin directories a non-root PATH may lack, as createHaproxyRouter looks for it), then the Node router.
 */
export function routerKinds(): RouterKind[] {
  return locateHaproxy() === undefined ? ["node"] : ["haproxy", "node"];
}
