// Types for tar-stream 2 (the version dockerode's tar-fs brings), which ships none: the parts slipway uses.
declare module "tar-stream" {
  import type { Readable, Writable } from "node:stream";

  export type Headers = {
    name: string;
    size?: number;
    mode?: number;
    mtime?: Date;
    type?: "file" | "directory" | "symlink" | "link" | "pax-header" | "gnu-long-path";
    linkname?: string;
    uid?: number;
    gid?: number;
    uname?: string;
    gname?: string;
    pax?: Record<string, string>;
  };

  export interface Pack extends Readable {
    /** Adds an entry: its body is `buffer`, or what is written to the returned stream (exactly `size` bytes). */
    entry(header: Headers, buffer: Buffer | string, callback?: (err?: Error | null) => void): Writable;
    entry(header: Headers, callback?: (err?: Error | null) => void): Writable;
    finalize(): void;
  }

  export interface Extract extends Writable {
    on(event: "entry", listener: (header: Headers, stream: Readable, next: () => void) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  export function pack(): Pack;
  export function extract(): Extract;

  const tar: { pack: typeof pack; extract: typeof extract };
  export default tar;
}
