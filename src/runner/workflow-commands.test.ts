import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type CommandEffect, WorkflowCommandProcessor } from "./workflow-commands.js";

const run = (line: string, processor = new WorkflowCommandProcessor()) => processor.process(line);
const log = (text: string): CommandEffect => ({ kind: "log", text });
const deprecation = (command: string): CommandEffect => ({
  kind: "annotation",
  annotation: {
    level: "warning",
    message: `The \`${command}\` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/`,
  },
});
const unableToProcess = (shown: string): CommandEffect => ({
  kind: "annotation",
  annotation: { level: "error", message: `Unable to process command '${shown}' successfully.` },
});

describe("ordinary lines", () => {
  it("prints lines that are not commands unchanged", () => {
    expect(run("hello world")).toEqual([log("hello world")]);
    expect(run("")).toEqual([log("")]);
    expect(run("a :: b :: c")).toEqual([log("a :: b :: c")]);
  });

  it("drops the CR of a CRLF line end", () => {
    expect(run("text\r")).toEqual([log("text")]);
    expect(run("::debug::x\r")).toEqual([{ kind: "debug", text: "x" }]);
  });

  it("prints unknown commands as they are", () => {
    expect(run("::foo::bar")).toEqual([log("::foo::bar")]);
    expect(run("::set-outputs name=a::b")).toEqual([log("::set-outputs name=a::b")]);
  });

  it("prints lines that start with :: but do not parse", () => {
    expect(run("::error")).toEqual([log("::error")]);
    expect(run("::")).toEqual([log("::")]);
    expect(run(":::")).toEqual([log(":::")]);
    expect(run("::::")).toEqual([log("::::")]);
    expect(run(":: error::x")).toEqual([log(":: error::x")]);
    expect(run(":error::x")).toEqual([log(":error::x")]);
  });

  it("accepts leading whitespace before a command, as the runner trims it", () => {
    expect(run("   ::warning::careful")).toEqual([
      { kind: "annotation", annotation: { level: "warning", message: "careful" } },
    ]);
    expect(run("\t::debug::x")).toEqual([{ kind: "debug", text: "x" }]);
  });

  it("matches command names and property names case-insensitively", () => {
    expect(run("::ERROR FILE=a.js,LINE=3::boom")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "boom", file: "a.js", line: 3 } },
    ]);
    expect(run("::Set-Output Name=x::1")).toEqual([
      deprecation("set-output"),
      { kind: "output", name: "x", value: "1" },
    ]);
  });
});

describe("annotations", () => {
  it("parses every property and unescapes property values", () => {
    expect(run("::error file=app.js,line=1,col=5,endColumn=7,title=A%2C B::Missing semicolon")).toEqual([
      {
        kind: "annotation",
        annotation: {
          level: "error",
          message: "Missing semicolon",
          file: "app.js",
          line: 1,
          col: 5,
          endColumn: 7,
          title: "A, B",
        },
      },
    ]);
  });

  it("supports warning and notice with a line range", () => {
    expect(run("::warning file=src/a.ts,line=2,endLine=4,title=Heads up::Check this")).toEqual([
      {
        kind: "annotation",
        annotation: {
          level: "warning",
          message: "Check this",
          file: "src/a.ts",
          line: 2,
          endLine: 4,
          title: "Heads up",
        },
      },
    ]);
    expect(run("::notice::Just so you know")).toEqual([
      { kind: "annotation", annotation: { level: "notice", message: "Just so you know" } },
    ]);
  });

  it("allows an empty message", () => {
    expect(run("::error::")).toEqual([{ kind: "annotation", annotation: { level: "error", message: "" } }]);
  });

  it("unescapes the message: %25, %0D, %0A", () => {
    expect(run("::error::50%25 done%0D%0Anext line")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "50% done\r\nnext line" } },
    ]);
  });

  it("leaves %3A and %2C in the message alone (they are property escapes only)", () => {
    expect(run("::error::a%3Ab%2Cc")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "a%3Ab%2Cc" } },
    ]);
  });

  it("unescapes property values: %25, %0D, %0A, %3A, %2C", () => {
    expect(run("::error title=a%3Ab%2Cc%25d%0De%0Af::m")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "m", title: "a:b,c%d\re\nf" } },
    ]);
  });

  it("unescapes %25 last, so an escaped escape stays literal", () => {
    expect(run("::error title=%253A::%250A")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "%0A", title: "%3A" } },
    ]);
  });

  it("treats lower-case hex as literal text, as the runner does", () => {
    expect(run("::error::a%0ab")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "a%0ab" } },
    ]);
  });

  it("keeps everything after the first :: separator as the message, colons included", () => {
    expect(run("::error::http://x::y")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "http://x::y" } },
    ]);
  });

  it("skips malformed properties and keeps the rest", () => {
    expect(run("::error file=a.js,,garbage,=x,line=,col=2,line=4::m")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "m", file: "a.js", line: 4, col: 2 } },
    ]);
  });

  it("keeps = signs inside a property value and the last of repeated properties", () => {
    expect(run("::notice title=a=b==,title=c=d::m")).toEqual([
      { kind: "annotation", annotation: { level: "notice", message: "m", title: "c=d" } },
    ]);
  });

  it("skips the = signs that follow the key, as .NET's Split does", () => {
    expect(run("::notice title==x::m")).toEqual([
      { kind: "annotation", annotation: { level: "notice", message: "m", title: "x" } },
    ]);
  });

  it("does not trim keys: a space after a comma makes a different key", () => {
    expect(run("::error file=a.js, line=3::m")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "m", file: "a.js" } },
    ]);
  });

  it("drops numbers that are not integers", () => {
    expect(run("::error line=abc,col=1.5::m")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "m" } },
    ]);
  });

  it("corrects positions as the runner does", () => {
    const position = (props: string) => {
      const [effect] = run(`::error ${props}::m`);
      if (effect.kind !== "annotation") throw new Error("expected an annotation");
      const { level: _level, message: _message, ...rest } = effect.annotation;
      return rest;
    };
    // A lone end becomes the start.
    expect(position("endLine=5")).toEqual({ line: 5, endLine: 5 });
    expect(position("line=1,endColumn=9")).toEqual({ line: 1, col: 9, endColumn: 9 });
    // Columns need a line.
    expect(position("col=3,endColumn=4")).toEqual({});
    // Columns need a single-line range.
    expect(position("line=1,endLine=3,col=2")).toEqual({ line: 1, endLine: 3 });
    expect(position("line=3,endLine=3,col=2,endColumn=5")).toEqual({
      line: 3,
      endLine: 3,
      col: 2,
      endColumn: 5,
    });
    // An end before its start drops the pair.
    expect(position("line=5,endLine=2")).toEqual({});
    expect(position("line=5,col=8,endColumn=2")).toEqual({ line: 5 });
  });
});

describe("the legacy ##[command] form", () => {
  it("is still recognised, anywhere in the line", () => {
    expect(run("##[warning]old style")).toEqual([
      { kind: "annotation", annotation: { level: "warning", message: "old style" } },
    ]);
    expect(run("prefix ##[error file=a.js;line=2]bad%5D%3B")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "bad];", file: "a.js", line: 2 } },
    ]);
    expect(run("##[group]Build")).toEqual([{ kind: "group-start", title: "Build" }]);
  });

  it("prints unknown or unterminated ones unchanged", () => {
    expect(run("##[section]Starting")).toEqual([log("##[section]Starting")]);
    expect(run("##[error unterminated")).toEqual([log("##[error unterminated")]);
  });
});

describe("add-mask", () => {
  it("registers the value and prints nothing", () => {
    expect(run("::add-mask::s3cr3t")).toEqual([{ kind: "mask", value: "s3cr3t" }]);
  });

  it("unescapes the value", () => {
    expect(run("::add-mask::line1%0Aline2")).toEqual([{ kind: "mask", value: "line1\nline2" }]);
  });

  it("warns on an empty or blank value", () => {
    const warning: CommandEffect = {
      kind: "annotation",
      annotation: {
        level: "warning",
        message: "Can't add secret mask for empty string in ##[add-mask] command.",
      },
    };
    expect(run("::add-mask::")).toEqual([warning]);
    expect(run("::add-mask::   ")).toEqual([warning]);
  });

  it("echoes a masked line, never the value, when echo is on", () => {
    const p = new WorkflowCommandProcessor({ echo: true });
    expect(p.process("::add-mask::s3cr3t")).toEqual([
      { kind: "mask", value: "s3cr3t" },
      log("::add-mask::***"),
    ]);
  });
});

describe("groups and debug", () => {
  it("starts and ends groups", () => {
    expect(run("::group::Install dependencies")).toEqual([
      { kind: "group-start", title: "Install dependencies" },
    ]);
    expect(run("::endgroup::")).toEqual([{ kind: "group-end" }]);
    expect(run("::endgroup::ignored")).toEqual([{ kind: "group-end" }]);
  });

  it("turns ::debug:: into a debug line", () => {
    expect(run("::debug::value is 100%25")).toEqual([{ kind: "debug", text: "value is 100%" }]);
  });
});

describe("set-output and save-state (deprecated)", () => {
  it("still sets the output, with GitHub's deprecation warning", () => {
    expect(run("::set-output name=result::a=b, c")).toEqual([
      deprecation("set-output"),
      { kind: "output", name: "result", value: "a=b, c" },
    ]);
  });

  it("still saves state, with the warning", () => {
    expect(run("::save-state name=pid::1234")).toEqual([
      deprecation("save-state"),
      { kind: "state", name: "pid", value: "1234" },
    ]);
  });

  it("accepts an empty and a multi-line value", () => {
    expect(run("::set-output name=empty::")).toEqual([
      deprecation("set-output"),
      { kind: "output", name: "empty", value: "" },
    ]);
    expect(run("::set-output name=m::a%0Ab")).toEqual([
      deprecation("set-output"),
      { kind: "output", name: "m", value: "a\nb" },
    ]);
  });

  it("fails the step when the name is missing", () => {
    expect(run("::set-output::value")).toEqual([
      deprecation("set-output"),
      unableToProcess("::set-output::value"),
      { kind: "fail", message: "Required field 'name' is missing in ##[set-output] command." },
    ]);
    expect(run("::save-state name=::v")).toEqual([
      deprecation("save-state"),
      unableToProcess("::save-state name=::v"),
      { kind: "fail", message: "Required field 'name' is missing in ##[save-state] command." },
    ]);
  });
});

describe("set-env and add-path (disabled)", () => {
  it("fails the step with GitHub's message", () => {
    expect(run("::set-env name=FOO::bar")).toEqual([
      unableToProcess("::set-env name=FOO::bar"),
      {
        kind: "fail",
        message:
          "The `set-env` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/",
      },
    ]);
    const [, fail] = run("::add-path::/opt/bin");
    expect(fail).toEqual({
      kind: "fail",
      message: expect.stringContaining("The `add-path` command is disabled."),
    });
  });
});

describe("problem matchers", () => {
  it("consumes add-matcher and remove-matcher lines, noting it in the debug log", () => {
    expect(run("::add-matcher::/tmp/tsc.json")).toEqual([
      { kind: "debug", text: "Problem matchers are not supported; ignoring ::add-matcher::/tmp/tsc.json" },
    ]);
    expect(run("::remove-matcher owner=tsc::")).toHaveLength(1);
  });
});

describe("echo", () => {
  it("is off by default", () => {
    expect(run("::group::g")).toEqual([{ kind: "group-start", title: "g" }]);
  });

  it("echoes processed commands after ::echo::on, until ::echo::off", () => {
    const p = new WorkflowCommandProcessor();
    expect(p.process("::echo::on")).toEqual([{ kind: "debug", text: "Setting echo command value to 'on'" }]);
    expect(p.process("::set-output name=a::1")).toEqual([
      log("::set-output name=a::1"),
      deprecation("set-output"),
      { kind: "output", name: "a", value: "1" },
    ]);
    expect(p.process("::group::g")).toEqual([log("::group::g"), { kind: "group-start", title: "g" }]);
    expect(p.process("::endgroup::")).toEqual([log("::endgroup::"), { kind: "group-end" }]);
    // The runner never echoes annotations or debug lines: they show in the log already.
    expect(p.process("::warning::w")).toEqual([
      { kind: "annotation", annotation: { level: "warning", message: "w" } },
    ]);
    expect(p.process("::debug::d")).toEqual([{ kind: "debug", text: "d" }]);
    // ::echo::off is itself echoed, since echo was still on when it arrived.
    expect(p.process("::echo::OFF")).toEqual([
      log("::echo::OFF"),
      { kind: "debug", text: "Setting echo command value to 'off'" },
    ]);
    expect(p.process("::group::h")).toEqual([{ kind: "group-start", title: "h" }]);
  });

  it("can start on, as with step debug logging", () => {
    const p = new WorkflowCommandProcessor({ echo: true });
    expect(p.process("::endgroup::")).toEqual([log("::endgroup::"), { kind: "group-end" }]);
  });

  it("accepts surrounding spaces and any case", () => {
    const p = new WorkflowCommandProcessor();
    p.process("::echo:: On ");
    expect(p.process("::group::g")[0]).toEqual(log("::group::g"));
  });

  it("fails the step on a value other than on or off", () => {
    expect(run("::echo::maybe")).toEqual([
      unableToProcess("::echo::maybe"),
      {
        kind: "fail",
        message:
          "Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: 'maybe'.",
      },
    ]);
    expect(run("::echo::")).toEqual([
      unableToProcess("::echo::"),
      { kind: "fail", message: "Value cannot be null. (Parameter 'value')" },
    ]);
  });
});

describe("stop-commands", () => {
  const paused = {
    kind: "debug",
    text: "Paused processing commands until the token you called ::stopCommands:: with is received",
  } as const;

  it("stops processing until ::TOKEN:: and then resumes", () => {
    const token = randomBytes(16).toString("hex");
    const p = new WorkflowCommandProcessor();
    expect(p.process(`::stop-commands::${token}`)).toEqual([
      { kind: "mask", value: token },
      log(`::stop-commands::${token}`),
      paused,
    ]);
    for (const line of [
      "::error::not an error",
      "::set-output name=a::b",
      "::add-mask::x",
      "::stop-commands::other",
    ]) {
      expect(p.process(line)).toEqual([log(line)]);
    }
    expect(p.process("##[warning]legacy too")).toEqual([log("##[warning]legacy too")]);
    expect(p.process(`::${token}::`)).toEqual([
      log(`::${token}::`),
      { kind: "debug", text: "Resume processing commands" },
    ]);
    expect(p.process("::error::now it is")).toEqual([
      { kind: "annotation", annotation: { level: "error", message: "now it is" } },
    ]);
    // The token is no command once processing has resumed.
    expect(p.process(`::${token}::`)).toEqual([log(`::${token}::`)]);
  });

  it("resumes on the token's name whatever its case, properties or data", () => {
    const p = new WorkflowCommandProcessor();
    p.process("::stop-commands::MyToken123");
    expect(p.process("::mytoken123 x=y::whatever")[0]).toEqual(log("::mytoken123 x=y::whatever"));
    expect(p.process("::debug::back")).toEqual([{ kind: "debug", text: "back" }]);
  });

  it("does not mask short tokens", () => {
    const p = new WorkflowCommandProcessor();
    expect(p.process("::stop-commands::abc123")).toEqual([log("::stop-commands::abc123"), paused]);
  });

  it("refuses a guessable token and keeps processing commands", () => {
    for (const token of ["", "pause-logging", "PAUSE-LOGGING", "error", "Set-Output", "stop-commands"]) {
      const p = new WorkflowCommandProcessor();
      const effects = p.process(`::stop-commands::${token}`);
      expect(effects).toEqual([
        log(`::stop-commands::${token}`),
        {
          kind: "fail",
          message: expect.stringContaining("You cannot use a endToken that is an empty string"),
        },
      ]);
      expect(p.process("::debug::still on")).toEqual([{ kind: "debug", text: "still on" }]);
    }
  });

  it("accepts a guessable token when allowed, and never resumes on an empty one", () => {
    const p = new WorkflowCommandProcessor({ allowUnsecureStopCommandTokens: true });
    expect(p.process("::stop-commands::pause-logging")).toEqual([
      { kind: "mask", value: "pause-logging" },
      log("::stop-commands::pause-logging"),
      paused,
    ]);
    expect(p.process("::debug::x")).toEqual([log("::debug::x")]);
    expect(p.process("::pause-logging::")[1]).toEqual({ kind: "debug", text: "Resume processing commands" });

    const q = new WorkflowCommandProcessor({ allowUnsecureStopCommandTokens: true });
    q.process("::stop-commands::");
    expect(q.process("::::")).toEqual([log("::::")]);
    expect(q.process("::debug::x")).toEqual([log("::debug::x")]);
  });

  it("is not echoed twice and does not depend on echo", () => {
    const p = new WorkflowCommandProcessor({ echo: true });
    expect(p.process("::stop-commands::abc123")).toEqual([log("::stop-commands::abc123"), paused]);
  });

  it("is per processor: a new step starts with commands on", () => {
    const p = new WorkflowCommandProcessor();
    p.process("::stop-commands::tokentoken");
    expect(new WorkflowCommandProcessor().process("::debug::x")).toEqual([{ kind: "debug", text: "x" }]);
  });
});
