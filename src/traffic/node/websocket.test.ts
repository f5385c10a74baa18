import { describe, expect, it } from "vitest";
import { FrameBoundary } from "./websocket.js";

describe("FrameBoundary", () => {
  const frame = (len: number, masked: boolean) => {
    const header =
      len < 126
        ? Buffer.from([0x82, (masked ? 0x80 : 0) | len])
        : len < 65536
          ? Buffer.from([0x82, (masked ? 0x80 : 0) | 126, len >> 8, len & 255])
          : Buffer.concat([
              Buffer.from([0x82, (masked ? 0x80 : 0) | 127]),
              Buffer.from([0, 0, 0, 0, 0, len >> 16, (len >> 8) & 255, len & 255]),
            ]);
    return Buffer.concat([
      header,
      masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0),
      Buffer.alloc(len, 9),
    ]);
  };

  it("follows frames of every length class split across chunks at any point", () => {
    const stream = Buffer.concat([frame(5, false), frame(300, true), frame(70_000, false), frame(0, true)]);
    for (const size of [1, 3, 7, 1000, stream.length]) {
      const fb = new FrameBoundary();
      const boundaries: number[] = [];
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, at + size);
        let offset = 0;
        while (offset < chunk.length) {
          offset += fb.advance(chunk.subarray(offset), true);
          if (fb.atBoundary) boundaries.push(at + offset);
          if (offset < chunk.length && fb.atBoundary)
            offset += fb.advance(chunk.subarray(offset, offset + 1));
        }
      }
      expect(fb.atBoundary).toBe(true);
      expect(boundaries).toContain(7);
      expect(boundaries).toContain(7 + 4 + 4 + 300);
    }
  });
});
