// The log file of a process instance: its stdout and stderr, appended; `logs` reads its end.
import { open } from "node:fs/promises";

/** How much of a log file `logs` reads from its end. */
const logReadLimit = 1024 * 1024;

/** Reads the last `tail` lines of a file (from at most its last MiB). */
export async function tailFile(path: string, tail: number): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch {
    return "";
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, logReadLimit);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const lines = buf.toString().split("\n");
    if (lines.at(-1) === "") lines.pop();
    // A partial first line (the read started mid-line) is dropped unless it is all there is.
    if (length < size && lines.length > 1) lines.shift();
    return lines.slice(-tail).join("\n");
  } finally {
    await fh.close();
  }
}
