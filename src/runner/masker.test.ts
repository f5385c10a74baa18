import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodedForms, Masker } from "./masker.js";

const masker = (...values: string[]) => {
  const m = new Masker();
  for (const v of values) m.add(v);
  return m;
};

describe("Masker", () => {
  it("returns text unchanged when nothing is registered", () => {
    expect(new Masker().mask("hello")).toBe("hello");
    expect(new Masker().size).toBe(0);
  });

  it("masks every occurrence", () => {
    expect(masker("hunter2").mask("pw=hunter2; again hunter2.")).toBe("pw=***; again ***.");
  });

  it("masks an empty text as empty", () => {
    expect(masker("x").mask("")).toBe("");
  });

  it("ignores empty and whitespace-only values", () => {
    const m = masker("", "   ", "\n\t");
    expect(m.size).toBe(0);
    expect(m.mask("a b  c")).toBe("a b  c");
  });

  it("masks single-character secrets", () => {
    expect(masker("x").mask("axbxc")).toBe("a***b***c");
  });

  it("counts distinct values and ignores repeats", () => {
    const m = masker("one", "two", "one");
    expect(m.size).toBe(2);
  });

  it("masks a secret that contains another as a whole", () => {
    expect(masker("abc", "abcdef").mask("x abcdef y abc z")).toBe("x *** y *** z");
    expect(masker("abcdef", "abc").mask("x abcdef y abc z")).toBe("x *** y *** z");
  });

  it("merges overlapping and adjacent occurrences into one ***, as GitHub does", () => {
    expect(masker("abc", "cde").mask("xabcdex")).toBe("x***x");
    expect(masker("ab").mask("ababab!")).toBe("***!");
    expect(masker("aa").mask("aaa")).toBe("***");
    expect(masker("abc", "xyz").mask("abcxyz")).toBe("***");
    expect(masker("abc", "xyz").mask("abc-xyz")).toBe("***-***");
  });

  it("finds a secret that starts inside a longer near-match", () => {
    expect(masker("abcd", "bce").mask("abce")).toBe("a***");
    expect(masker("aab").mask("aaab")).toBe("a***");
  });

  it("treats regex special characters literally", () => {
    const special = "a.b*c+d?e^f$g{1}h(i)j|k[l]m\\n/o";
    const m = masker(special, ".*");
    expect(m.mask(`x ${special} y`)).toBe("x *** y");
    expect(m.mask("a-b-c anything .* here")).toBe("a-b-c anything *** here");
    expect(masker("$&").mask("a $& b")).toBe("a *** b");
  });

  it("masks a multi-line secret whole and line by line", () => {
    const key = "-----BEGIN KEY-----\r\nAAAAline1\r\nBBBBline2\r\n\r\n-----END KEY-----\n";
    const m = masker(key);
    expect(m.size).toBe(5);
    expect(m.mask(`key: ${key}`)).toBe("key: ***");
    expect(m.mask("printed alone: BBBBline2")).toBe("printed alone: ***");
    expect(m.mask("AAAAline1 and -----END KEY-----")).toBe("*** and ***");
  });

  it("masks non-ASCII secrets", () => {
    expect(masker("pässwörd🔑").mask("[pässwörd🔑]")).toBe("[***]");
  });

  it("masks values added after masking started", () => {
    const m = masker("first");
    expect(m.mask("first second")).toBe("*** second");
    m.add("second");
    expect(m.mask("first second")).toBe("*** ***");
  });

  it("stays correct while many values are added between lines", () => {
    const m = new Masker();
    const secrets = Array.from({ length: 300 }, (_, i) => `secret-${i}-${randomBytes(4).toString("hex")}`);
    secrets.forEach((s, i) => {
      m.add(s);
      expect(m.mask(`line ${s} and ${secrets[0]}`)).toBe("line *** and ***");
      if (i > 0) expect(m.mask(`${secrets[i - 1]}${s}`)).toBe("***");
    });
  });

  describe("encoded forms", () => {
    it("masks the JSON-escaped form", () => {
      const m = masker('pa"ss\\word\n2');
      expect(m.mask(JSON.stringify({ password: 'pa"ss\\word\n2' }))).toBe('{"password":"***"}');
    });

    it("masks both URL encodings", () => {
      const secret = "p@ss w/rd!(x)";
      const m = masker(secret);
      expect(m.mask(`https://u:${encodeURIComponent(secret)}@host`)).toBe("https://u:***@host");
      expect(m.mask("q=p%40ss%20w%2Frd%21%28x%29")).toBe("q=***");
    });

    it("masks the base64 encoding, alone and inside a longer encoded text", () => {
      const secret = "correct-horse-battery";
      const m = masker(secret);
      expect(m.mask(Buffer.from(secret).toString("base64"))).toBe("***");
      for (const prefix of ["", "u:", "us:", "use:"]) {
        for (const suffix of ["", "\n", "xy"]) {
          const encoded = Buffer.from(`${prefix}${secret}${suffix}`).toString("base64");
          const masked = m.mask(encoded);
          expect(masked).toContain("***");
          // What is left around the mask cannot hold more than a few bytes of the secret.
          expect(masked.replace("***", "").length).toBeLessThanOrEqual(
            Math.ceil(((prefix.length + suffix.length) * 4) / 3) + 8,
          );
        }
      }
    });

    it("masks XML- and expression-escaped forms and the inside of a quoted value", () => {
      const m = masker(`it's <"x"> & y`);
      expect(m.mask("<v>it&apos;s &lt;&quot;x&quot;&gt; &amp; y</v>")).toBe("<v>***</v>");
      expect(m.mask("'it''s <\"x\"> & y'")).toBe("'***'");
      expect(masker('"long secret"').mask("token=long secret")).toBe("token=***");
    });

    it("lists only forms that differ from the value, and no short base64 fragments", () => {
      const forms = encodedForms("abc");
      expect(forms).not.toContain("abc");
      expect(forms).toContain("YWJj");
      expect(forms.every((f) => f.length >= 4)).toBe(true);
      expect(encodedForms("ab")).toEqual(["YWI="]);
    });
  });

  it("masks 1000 secrets over 1 MB quickly", () => {
    const secrets = Array.from({ length: 1000 }, () => randomBytes(15).toString("base64url"));
    const m = masker(...secrets);
    expect(m.size).toBe(1000);
    const words: string[] = [];
    let size = 0;
    for (let i = 0; size < 1_000_000; i++) {
      const word = i % 997 === 0 ? secrets[i % 1000] : randomBytes(6).toString("hex");
      words.push(word);
      size += word.length + 1;
    }
    const text = words.join(" ");
    const started = performance.now();
    const masked = m.mask(text);
    const lines = text.match(/.{1,120}/g) ?? [];
    for (const line of lines) m.mask(line);
    const elapsed = performance.now() - started;
    for (const s of secrets.slice(0, 50)) expect(masked).not.toContain(s);
    expect(masked.split("***").length - 1).toBe(words.filter((_, i) => i % 997 === 0).length);
    // A sanity bound for slow machines; typically a few hundred milliseconds including the build.
    expect(elapsed).toBeLessThan(5_000);
  });
});

describe("Masker.safeCut", () => {
  it("cuts where asked when no secret straddles the cut", () => {
    const m = masker("hunter22");
    const text = `${"a".repeat(20)}hunter22${"b".repeat(20)}`;
    expect(m.safeCut(text, 10)).toBe(10);
    expect(m.safeCut(text, 28)).toBe(28);
    expect(new Masker().safeCut(text, 5)).toBe(5);
  });

  it("moves the cut to the start of a secret that straddles it, or past one that starts the text", () => {
    const m = masker("hunter22");
    const text = `${"a".repeat(20)}hunter22${"b".repeat(20)}`;
    expect(m.safeCut(text, 24)).toBe(20);
    const leading = `hunter22hunter22${"b".repeat(20)}`;
    expect(m.safeCut(leading, 4)).toBe(16);
  });

  it("waits while a secret starting before the cut could still end after the text", () => {
    const m = masker("hunter22");
    expect(m.safeCut(`${"a".repeat(10)}hunt`, 12)).toBeUndefined();
    // With no more to come, it cuts before the partial secret.
    expect(m.safeCut(`${"a".repeat(10)}hunter22`, 12, true)).toBe(10);
  });

  it("pieces cut where it says mask as the whole line does", () => {
    const secret = randomBytes(24).toString("hex");
    const m = masker(secret);
    const text = `${"x".repeat(1000)}${secret} and ${Buffer.from(secret).toString("base64")} ${"y".repeat(1000)}`;
    for (let at = 990; at < 1150; at++) {
      const cut = m.safeCut(text, at, true)!;
      const pieces = m.mask(text.slice(0, cut)) + m.mask(text.slice(cut));
      expect(pieces).toBe(m.mask(text));
      expect(pieces).not.toContain(secret.slice(0, 8));
    }
  });
});
