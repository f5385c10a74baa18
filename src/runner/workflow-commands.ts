// Workflow commands a step prints on stdout or stderr (`::error file=a.js,line=1::msg`), interpreted the
// way GitHub's runner does (ActionCommand.TryParseV2/TryParse and ActionCommandManager in actions/runner):
// which lines count as commands, how values are unescaped, what each command does, and when the step fails.
//
// The processor is pure: it turns one line into a list of effects and keeps only the state GitHub keeps
// between lines of a step (echo on/off, the stop-commands token). Reading files, masking and rendering are
// the caller's business.

export type Annotation = {
  level: "error" | "warning" | "notice";
  message: string;
  file?: string;
  line?: number;
  endLine?: number;
  col?: number;
  endColumn?: number;
  title?: string;
  /**
   * The step that made it, as GitHub's runner sends `stepNumber` with an annotation: 1-based in the
   * order the job's steps are reported; absent for one made outside any step (setting up the job).
   */
  stepNumber?: number;
  stepName?: string;
};

export type CommandEffect =
  /** Print this line (an ordinary line, an unrecognised command, or an echoed command). */
  | { kind: "log"; text: string }
  /** Print only when step debug logging is on (ACTIONS_STEP_DEBUG, --verbose). */
  | { kind: "debug"; text: string }
  | { kind: "annotation"; annotation: Annotation }
  /** Register a secret; it comes before any log effect of the same line that must already be masked. */
  | { kind: "mask"; value: string }
  | { kind: "group-start"; title: string }
  | { kind: "group-end" }
  | { kind: "output"; name: string; value: string }
  | { kind: "state"; name: string; value: string }
  /**
   * The step must fail, as GitHub fails it when a command cannot be processed (set-env, add-path, a missing
   * `name`, a bad echo value, an unsafe stop-commands token). `message` is the reason, which GitHub prints as
   * an error line; it is not repeated in an annotation effect.
   */
  | { kind: "fail"; message: string };

export type WorkflowCommandOptions = {
  /** Echo processed commands from the start, as the runner does with step debug logging on (default off). */
  echo?: boolean;
  /** ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS: accept empty, `pause-logging` or command-name tokens. */
  allowUnsecureStopCommandTokens?: boolean;
};

// Runner messages, verbatim (src/Runner.Common/Constants.cs), so that logs read as they do on GitHub.
const deprecatedMessage = (command: string) =>
  `The \`${command}\` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/`;
const disabledMessage = (command: string) =>
  `The \`${command}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/`;
const unsafeStopTokenMessage =
  "You cannot use a endToken that is an empty string, the string 'pause-logging', or another workflow command. For more information see: https://docs.github.com/actions/learn-github-actions/workflow-commands-for-github-actions#example-stopping-and-starting-workflow-commands or opt into insecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to `true`.";

/**
 * The commands the runner registers. A line naming anything else is not a command at all and is printed
 * unchanged. add-matcher/remove-matcher are registered on GitHub (setup-node and friends print them), so
 * they are consumed here too, even though slipway has no problem matchers yet.
 */
const commandNames = new Set([
  "stop-commands",
  "set-env",
  "set-output",
  "save-state",
  "add-mask",
  "add-path",
  "add-matcher",
  "remove-matcher",
  "debug",
  "warning",
  "error",
  "notice",
  "group",
  "endgroup",
  "echo",
]);

/** Commands whose line the runner never echoes (OmitEcho): their effect is already visible in the log. */
const omitEcho = new Set(["add-mask", "debug", "warning", "error", "notice"]);

type ParsedCommand = {
  /** Lower-cased: the runner compares command names case-insensitively. */
  name: string;
  /** Keys lower-cased (the runner's dictionary ignores case); a repeated key keeps its last value. */
  properties: Map<string, string>;
  data: string;
};

// Unescaping replaces one sequence after another in the runner's order, and only upper-case hex is an escape:
// `%250A` becomes `%0A`, `%0a` stays as it is.
const dataEscapes: Array<[string, string]> = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%25", "%"],
];
const propertyEscapes: Array<[string, string]> = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%3A", ":"],
  ["%2C", ","],
  ["%25", "%"],
];
const legacyEscapes: Array<[string, string]> = [
  ["%3B", ";"],
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%5D", "]"],
  ["%25", "%"],
];

function unescapeValue(value: string, escapes: Array<[string, string]>): string {
  if (!value.includes("%")) return value;
  let out = value;
  for (const [escaped, plain] of escapes) out = out.replaceAll(escaped, plain);
  return out;
}

/**
 * Splits `key=value` like .NET's `Split('=', 2, RemoveEmptyEntries)`, which the runner uses: separators
 * before the key and right after it are skipped, and a pair without a non-empty key and value is dropped.
 */
function splitPair(text: string, sep: string): [string, string] | undefined {
  let start = 0;
  while (text[start] === sep) start++;
  const end = text.indexOf(sep, start);
  if (end < 0) return undefined;
  let valueStart = end + 1;
  while (text[valueStart] === sep) valueStart++;
  if (valueStart >= text.length) return undefined;
  return [text.slice(start, end), text.slice(valueStart)];
}

function parseProperties(
  text: string,
  sep: string,
  escapes: Array<[string, string]>,
  into: Map<string, string>,
): void {
  for (const part of text.split(sep)) {
    if (part === "") continue;
    const pair = splitPair(part, "=");
    if (pair) into.set(pair[0].toLowerCase(), unescapeValue(pair[1], escapes));
  }
}

/** `::name key=value,key=value::data`, after leading whitespace. */
function parseV2(line: string, isRegistered: (name: string) => boolean): ParsedCommand | undefined {
  const message = line.trimStart();
  if (!message.startsWith("::")) return undefined;
  const end = message.indexOf("::", 2);
  if (end < 0) return undefined;
  const info = message.slice(2, end);
  const space = info.indexOf(" ");
  const name = (space < 0 ? info : info.slice(0, space)).toLowerCase();
  if (!isRegistered(name)) return undefined;
  const properties = new Map<string, string>();
  if (space > 0) parseProperties(info.slice(space + 1).trim(), ",", propertyEscapes, properties);
  return { name, properties, data: unescapeValue(message.slice(end + 2), dataEscapes) };
}

/** The older `##[name key=value;key=value]data` form, which the runner still accepts anywhere in a line. */
function parseLegacy(line: string, isRegistered: (name: string) => boolean): ParsedCommand | undefined {
  const prefix = line.indexOf("##[");
  if (prefix < 0) return undefined;
  const close = line.indexOf("]", prefix);
  if (close < 0) return undefined;
  const info = line.slice(prefix + 3, close);
  const space = info.indexOf(" ");
  const name = (space < 0 ? info : info.slice(0, space)).toLowerCase();
  if (!isRegistered(name)) return undefined;
  const properties = new Map<string, string>();
  if (space > 0) parseProperties(info.slice(space + 1), ";", legacyEscapes, properties);
  return { name, properties, data: unescapeValue(line.slice(close + 1), legacyEscapes) };
}

/** .NET int.TryParse: optional surrounding whitespace and sign, 32-bit range. */
function parseInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*[+-]?\d+\s*$/.test(value)) return undefined;
  const n = Number(value.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/**
 * Builds an annotation, correcting inconsistent positions as the runner's ValidateLinesAndColumns does
 * rather than rejecting the command: a lone end is used as the start, columns need a line and a single-line
 * range, and an end before its start drops the pair.
 */
function toAnnotation(level: Annotation["level"], command: ParsedCommand): Annotation {
  const p = command.properties;
  let lineText = p.get("line");
  const endLineText = p.get("endline");
  let line = parseInteger(lineText);
  let endLine = parseInteger(endLineText);
  let col = parseInteger(p.get("col"));
  let endColumn = parseInteger(p.get("endcolumn"));
  const hasColumn = col !== undefined || endColumn !== undefined;

  if (endLine !== undefined && line === undefined) {
    line = endLine;
    lineText = endLineText;
  }
  if (endColumn !== undefined && col === undefined) col = endColumn;
  if (line === undefined && hasColumn) col = endColumn = undefined;
  // The runner compares the raw texts here, so `line=1,endLine=01` counts as two lines.
  if (endLine !== undefined && lineText !== endLineText && hasColumn) col = endColumn = undefined;
  if (line !== undefined && endLine !== undefined && endLine < line) line = endLine = undefined;
  if (col !== undefined && endColumn !== undefined && endColumn < col) col = endColumn = undefined;

  const annotation: Annotation = { level, message: command.data };
  const file = p.get("file");
  const title = p.get("title");
  if (file !== undefined) annotation.file = file;
  if (line !== undefined) annotation.line = line;
  if (endLine !== undefined) annotation.endLine = endLine;
  if (col !== undefined) annotation.col = col;
  if (endColumn !== undefined) annotation.endColumn = endColumn;
  if (title !== undefined) annotation.title = title;
  return annotation;
}

/** Raised by a command handler; turned into GitHub's "Unable to process command" error and a failed step. */
class CommandError extends Error {}

/** Interprets the output lines of one step. Create one per step: echo and stop-commands state are per step. */
export class WorkflowCommandProcessor {
  #echo: boolean;
  readonly #allowUnsecureStopTokens: boolean;
  /** Set while commands are stopped: only `::<token>::` is recognised, every other line is printed. */
  #stopToken: string | undefined;

  constructor(options: WorkflowCommandOptions = {}) {
    this.#echo = options.echo ?? false;
    this.#allowUnsecureStopTokens = options.allowUnsecureStopCommandTokens ?? false;
  }

  /**
   * Interprets one line (without its newline; a trailing CR is dropped as the runner's line reader does).
   * Returns the effects in the order they must be applied.
   */
  process(rawLine: string): CommandEffect[] {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const stopToken = this.#stopToken;
    const isRegistered =
      stopToken === undefined
        ? (name: string) => commandNames.has(name)
        : (name: string) => commandNames.has(name) || name === stopToken.toLowerCase();
    const command = parseV2(line, isRegistered) ?? parseLegacy(line, isRegistered);
    if (!command) return [{ kind: "log", text: line }];

    if (stopToken !== undefined) {
      // An empty token (only possible with unsafe tokens allowed) never resumes, as on GitHub.
      if (stopToken !== "" && command.name === stopToken.toLowerCase()) {
        this.#stopToken = undefined;
        return [
          { kind: "log", text: line },
          { kind: "debug", text: "Resume processing commands" },
        ];
      }
      return [{ kind: "log", text: line }];
    }

    if (command.name === "stop-commands") return this.#stopCommands(line, command.data);

    const effects: CommandEffect[] = [];
    if (this.#echo && !omitEcho.has(command.name)) effects.push({ kind: "log", text: line });
    try {
      this.#run(command, effects);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      // The runner names only the command, not the line, for commands it never echoes (the line may hold a
      // secret, as with add-mask).
      const shown = omitEcho.has(command.name) ? command.name : line;
      effects.push(
        {
          kind: "annotation",
          annotation: { level: "error", message: `Unable to process command '${shown}' successfully.` },
        },
        { kind: "fail", message: error.message },
      );
    }
    return effects;
  }

  #stopCommands(line: string, token: string): CommandEffect[] {
    const unsafe =
      token === "" || commandNames.has(token.toLowerCase()) || token.toLowerCase() === "pause-logging";
    // A token anyone can guess would let untrusted output switch command processing off and on at will.
    if (unsafe && !this.#allowUnsecureStopTokens) {
      return [
        { kind: "log", text: line },
        { kind: "fail", message: unsafeStopTokenMessage },
      ];
    }
    this.#stopToken = token;
    const effects: CommandEffect[] = [];
    // The runner masks tokens longer than six characters, so a log reader cannot learn the token and forge
    // the resume line in output that reaches this step later.
    if (token.length > 6) effects.push({ kind: "mask", value: token });
    effects.push(
      { kind: "log", text: line },
      {
        kind: "debug",
        text: "Paused processing commands until the token you called ::stopCommands:: with is received",
      },
    );
    return effects;
  }

  #run(command: ParsedCommand, effects: CommandEffect[]): void {
    const { name, data } = command;
    switch (name) {
      case "add-mask":
        if (data.trim() === "") {
          effects.push({
            kind: "annotation",
            annotation: {
              level: "warning",
              message: "Can't add secret mask for empty string in ##[add-mask] command.",
            },
          });
          return;
        }
        effects.push({ kind: "mask", value: data });
        if (this.#echo) effects.push({ kind: "log", text: "::add-mask::***" });
        return;
      case "debug":
        effects.push({ kind: "debug", text: data });
        return;
      case "error":
      case "warning":
      case "notice":
        effects.push({ kind: "annotation", annotation: toAnnotation(name, command) });
        return;
      case "group":
        effects.push({ kind: "group-start", title: data });
        return;
      case "endgroup":
        effects.push({ kind: "group-end" });
        return;
      case "echo": {
        if (data === "") throw new CommandError("Value cannot be null. (Parameter 'value')");
        const value = data.trim().toUpperCase();
        if (value !== "ON" && value !== "OFF") {
          throw new CommandError(
            `Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${data}'.`,
          );
        }
        this.#echo = value === "ON";
        effects.push({ kind: "debug", text: `Setting echo command value to '${value.toLowerCase()}'` });
        return;
      }
      case "set-output":
      case "save-state": {
        // Deprecated but still honoured on GitHub, with this warning on every use.
        effects.push({
          kind: "annotation",
          annotation: { level: "warning", message: deprecatedMessage(name) },
        });
        const key = command.properties.get("name");
        if (!key) throw new CommandError(`Required field 'name' is missing in ##[${name}] command.`);
        effects.push({ kind: name === "set-output" ? "output" : "state", name: key, value: data });
        return;
      }
      case "set-env":
      case "add-path":
        // Disabled since CVE-2020-15228: any output line could change the environment of later steps.
        throw new CommandError(disabledMessage(name));
      case "add-matcher":
      case "remove-matcher":
        effects.push({
          kind: "debug",
          text: `Problem matchers are not supported; ignoring ::${name}::${data}`,
        });
        return;
    }
  }
}
