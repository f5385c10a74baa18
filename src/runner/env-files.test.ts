import { describe, expect, it } from "vitest";
import { parseKeyValueFile, parsePathFile } from "./env-files.js";

describe("parseKeyValueFile", () => {
  it("parses name=value lines in order, keeping repeats", () => {
    expect(parseKeyValueFile("a=1\nb=2\na=3\n")).toEqual({
      values: [
        ["a", "1"],
        ["b", "2"],
        ["a", "3"],
      ],
      errors: [],
    });
  });

  it("splits at the first =, so values may contain =", () => {
    expect(parseKeyValueFile("url=https://x/?a=b&c=d\nempty=\n").values).toEqual([
      ["url", "https://x/?a=b&c=d"],
      ["empty", ""],
    ]);
  });

  it("keeps spaces in names and values", () => {
    expect(parseKeyValueFile(" name = value \n").values).toEqual([[" name ", " value "]]);
  });

  it("skips empty lines and accepts a last line without newline", () => {
    expect(parseKeyValueFile("\n\na=1\n\nb=2").values).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
  });

  it("returns nothing for an empty file", () => {
    expect(parseKeyValueFile("")).toEqual({ values: [], errors: [] });
  });

  it("parses the multi-line form, without the newline before the delimiter", () => {
    const content = 'json<<EOF\n{\n  "a": 1\n}\nEOF\nafter=yes\n';
    expect(parseKeyValueFile(content)).toEqual({
      values: [
        ["json", '{\n  "a": 1\n}'],
        ["after", "yes"],
      ],
      errors: [],
    });
  });

  it("handles empty values, empty lines and a delimiter at the end of the file", () => {
    expect(parseKeyValueFile("a<<EOF\nEOF\n").values).toEqual([["a", ""]]);
    expect(parseKeyValueFile("a<<EOF\n\nEOF\n").values).toEqual([["a", ""]]);
    expect(parseKeyValueFile("a<<EOF\n\n\nEOF\n").values).toEqual([["a", "\n"]]);
    expect(parseKeyValueFile("a<<EOF\nx\nEOF").values).toEqual([["a", "x"]]);
  });

  it("takes the value lines literally: = and << inside, indented or longer delimiters", () => {
    const content = "v<<END\nk=v\nx<<END2\n END\nEND \nENDING\nEND\n";
    expect(parseKeyValueFile(content).values).toEqual([["v", "k=v\nx<<END2\n END\nEND \nENDING"]]);
  });

  it("uses whichever of = and << comes first", () => {
    expect(parseKeyValueFile("a=b<<c\n").values).toEqual([["a", "b<<c"]]);
    expect(parseKeyValueFile("a<<X=Y\nv\nX=Y\n").values).toEqual([["a", "v"]]);
  });

  it("accepts random delimiters as GitHub's docs recommend", () => {
    const delimiter = `ghadelimiter_${"0123abcd".repeat(4)}`;
    expect(parseKeyValueFile(`out<<${delimiter}\nline 1\nline 2\n${delimiter}\n`).values).toEqual([
      ["out", "line 1\nline 2"],
    ]);
  });

  it("tolerates CRLF line ends in both forms", () => {
    const content = "a=1\r\nm<<EOF\r\nx\r\ny\r\nEOF\r\nb=2\r\n";
    expect(parseKeyValueFile(content)).toEqual({
      values: [
        ["a", "1"],
        ["m", "x\r\ny"],
        ["b", "2"],
      ],
      errors: [],
    });
  });

  it("keeps a lone CR as text", () => {
    expect(parseKeyValueFile("a=1\r2\n").values).toEqual([["a", "1\r2"]]);
  });

  it("ignores a leading byte-order mark (PowerShell 5 writes one)", () => {
    expect(parseKeyValueFile("\uFEFFa=1\n").values).toEqual([["a", "1"]]);
  });

  it("reports a missing delimiter, keeping the values before it", () => {
    expect(parseKeyValueFile("a=1\nm<<EOF\nx\ny\n")).toEqual({
      values: [["a", "1"]],
      errors: ["Invalid value. Matching delimiter not found 'EOF'"],
    });
    expect(parseKeyValueFile("m<<EOF\n").errors).toEqual([
      "Invalid value. Matching delimiter not found 'EOF'",
    ]);
  });

  it("reports a value whose last line has no newline and no delimiter after it", () => {
    expect(parseKeyValueFile("m<<EOF\nx").errors).toEqual(["Invalid value. EOF marker missing new line."]);
  });

  it("does not accept a delimiter followed by spaces", () => {
    expect(parseKeyValueFile("m<<EOF\nx\nEOF \n").errors).toEqual([
      "Invalid value. Matching delimiter not found 'EOF'",
    ]);
  });

  it("reports an empty name or delimiter", () => {
    expect(parseKeyValueFile("=value\n").errors).toEqual(["Invalid format '=value'. Name must not be empty"]);
    expect(parseKeyValueFile("<<EOF\nx\nEOF\n").errors).toEqual([
      "Invalid format '<<EOF'. Name must not be empty and delimiter must not be empty",
    ]);
    expect(parseKeyValueFile("name<<\nx\n").errors).toEqual([
      "Invalid format 'name<<'. Name must not be empty and delimiter must not be empty",
    ]);
  });

  it("reports a line that is neither form, and stops there as the runner does", () => {
    expect(parseKeyValueFile("a=1\njust some text\nb=2\n")).toEqual({
      values: [["a", "1"]],
      errors: ["Invalid format 'just some text'"],
    });
  });

  it("parses large files in linear time", () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => `key_${i}=${"v".repeat(40)}`);
    const many = lines.join("\n");
    const big = `big<<EOF\n${`${"x".repeat(99)}\n`.repeat(100_000)}EOF\n`;
    expect(many.length + big.length).toBeGreaterThan(18_000_000);
    const started = performance.now();
    expect(parseKeyValueFile(many).values).toHaveLength(200_000);
    const [[name, value]] = parseKeyValueFile(big).values;
    expect(name).toBe("big");
    expect(value).toHaveLength(10_000_000 - 1);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("parsePathFile", () => {
  it("returns non-empty lines in order", () => {
    expect(parsePathFile("/opt/a/bin\n\n/opt/b/bin\n")).toEqual(["/opt/a/bin", "/opt/b/bin"]);
  });

  it("splits at LF, CRLF and a lone CR", () => {
    expect(parsePathFile("/a\r\n/b\r/c\n/d")).toEqual(["/a", "/b", "/c", "/d"]);
  });

  it("keeps spaces, which are part of the path", () => {
    expect(parsePathFile("/with space/bin \n")).toEqual(["/with space/bin "]);
  });

  it("ignores a byte-order mark and returns nothing for an empty file", () => {
    expect(parsePathFile("\uFEFF/a\n")).toEqual(["/a"]);
    expect(parsePathFile("")).toEqual([]);
  });
});
