// The files behind GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE (key/value) and GITHUB_PATH (one path a line),
// parsed as GitHub's runner parses them (EnvFileKeyValuePairs and AddPathFileCommand in actions/runner).
// Only parsing lives here: what a name may be, and what the values do, is the caller's business.

/**
 * Parses a key/value file: `name=value` lines and `name<<DELIMITER` blocks whose value is every line up to
 * a line that is exactly the delimiter (without the newline before it). The split happens at whichever of
 * `=` and `<<` comes first, so `a=b<<c` sets `a` to `b<<c`. Names and values are not trimmed; empty lines
 * are skipped.
 *
 * Pairs come back in file order, repeats included: the caller applies them in order, so the last one wins.
 * Like the runner, parsing stops at the first error (it throws there), keeping the pairs before it, so
 * `errors` holds at most one message; GitHub then reports "Unable to process file command '<name>'
 * successfully." followed by the message, and fails the step.
 *
 * CRLF line ends are accepted as the runner accepts them on Windows (on Linux and macOS it would keep the CR
 * in the value and miss a delimiter followed by CR); a lone CR is part of the text. A leading BOM is ignored,
 * as .NET's ReadAllText ignores it. One pass over the text: linear in its length.
 */
export function parseKeyValueFile(content: string): { values: Array<[string, string]>; errors: string[] } {
  const text = content.startsWith("\uFEFF") ? content.slice(1) : content;
  const values: Array<[string, string]> = [];
  let index = 0;

  // Reads the line at `index` and moves past its newline; `newline` is empty for a last line without one.
  let newline = "";
  const readLine = (): string | undefined => {
    if (index >= text.length) return undefined;
    const start = index;
    const lf = text.indexOf("\n", start);
    if (lf < 0) {
      index = text.length;
      newline = "";
      return text.slice(start);
    }
    index = lf + 1;
    if (lf > start && text.charCodeAt(lf - 1) === 13) {
      newline = "\r\n";
      return text.slice(start, lf - 1);
    }
    newline = "\n";
    return text.slice(start, lf);
  };

  for (let line = readLine(); line !== undefined; line = readLine()) {
    if (line === "") continue;
    const equals = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
      const name = line.slice(0, equals);
      // The runner means to reject this but tests the whole line instead of the name, so it lets
      // `=value` through with an empty name; rejecting it is what the message says should happen.
      if (name === "") return { values, errors: [`Invalid format '${line}'. Name must not be empty`] };
      values.push([name, line.slice(equals + 1)]);
    } else if (heredoc >= 0) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (name === "" || delimiter === "") {
        return {
          values,
          errors: [`Invalid format '${line}'. Name must not be empty and delimiter must not be empty`],
        };
      }
      const start = index;
      let end = index;
      for (let valueLine = readLine(); valueLine !== delimiter; valueLine = readLine()) {
        if (valueLine === undefined) {
          return { values, errors: [`Invalid value. Matching delimiter not found '${delimiter}'`] };
        }
        // A last line without a newline cannot be followed by the delimiter.
        if (newline === "") return { values, errors: ["Invalid value. EOF marker missing new line."] };
        end = index - newline.length;
      }
      values.push([name, text.slice(start, end)]);
    } else {
      return { values, errors: [`Invalid format '${line}'`] };
    }
  }
  return { values, errors: [] };
}

/**
 * Parses a GITHUB_PATH file: one path a line, in file order; the caller prepends them so that the last line
 * ends up first in PATH. Lines end at LF, CRLF or a lone CR (.NET's ReadAllLines); only empty lines are
 * skipped, and paths are not otherwise trimmed.
 */
export function parsePathFile(content: string): string[] {
  const text = content.startsWith("\uFEFF") ? content.slice(1) : content;
  return text.split(/\r\n|\r|\n/).filter((line) => line !== "");
}
