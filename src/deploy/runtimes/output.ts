// The captured output of a task or exec: what both runtimes keep of a command's stdout and stderr.

/** How much of a command's output is kept (the end of it). */
export const outputLimit = 64 * 1024;

/**
 * Collects output chunks in the order they come, keeping the last `outputLimit` bytes. When the start
 * was cut, the kept text begins at the first whole line: a cut in the middle of a line could leave the
 * end of a secret there, which no masker can recognise (nor half a UTF-8 character).
 */
export function outputTail() {
  const chunks: Buffer[] = [];
  let size = 0;
  /** The last byte of the chunks dropped from the front (-1: none dropped yet). */
  let lastDropped = -1;
  return {
    push(b: Buffer) {
      chunks.push(b);
      size += b.length;
      while (size - chunks[0].length >= outputLimit) {
        const gone = chunks.shift()!;
        size -= gone.length;
        if (gone.length) lastDropped = gone[gone.length - 1];
      }
    },
    text(): string {
      const all = Buffer.concat(chunks);
      const cut = all.length > outputLimit;
      if (!cut && lastDropped === -1) return all.toString();
      const tail = all.subarray(Math.max(0, all.length - outputLimit));
      // The byte just before the tail: a newline means the tail starts with a whole line.
      const before = cut ? all[all.length - outputLimit - 1] : lastDropped;
      if (before === 10) return tail.toString();
      const nl = tail.indexOf(10);
      return nl < 0 ? "" : tail.subarray(nl + 1).toString();
    },
  };
}
