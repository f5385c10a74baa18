// The captured output of a task or exec: what both runtimes keep of a command's stdout and stderr.

/** How much of a command's output is kept (the end of it). */
export const outputLimit = 64 * 1024;

/** Collects output chunks in the order they come, keeping the last `outputLimit` bytes. */
export function outputTail() {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(b: Buffer) {
      chunks.push(b);
      size += b.length;
      while (size - chunks[0].length >= outputLimit) size -= chunks.shift()!.length;
    },
    text(): string {
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - outputLimit)).toString();
    },
  };
}
