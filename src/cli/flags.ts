// Flags that mean the same everywhere, and the old spellings still accepted for one release. The table of
// short flags (docs/cli.md) keeps act's for `slipway run` (-e eventpath, -s secret, -n dry run, -W, -j,
// -l, -C, -P); consistency.test.ts walks every command and holds every command to it.
import { type Command, Option } from "@commander-js/extra-typings";

/** What an extra spelling of an option stands for: a target option, and whether it is deprecated. */
export type AliasInfo = { target: string; deprecated: boolean };

const aliases = new WeakMap<object, AliasInfo>();

/** The option an alias stands for, or undefined for a real option. */
export function aliasOf(option: object): AliasInfo | undefined {
  return aliases.get(option);
}

let noticeSink: (line: string) => void = (line) => process.stderr.write(line);
const noticed = new Set<string>();

/** Where deprecation notices go (tests collect them); each is printed once per process. */
export function setNoticeSink(sink: (line: string) => void): void {
  noticeSink = sink;
  noticed.clear();
}

export function deprecationNotice(text: string): void {
  if (noticed.has(text)) return;
  noticed.add(text);
  noticeSink(`slipway: deprecated: ${text}\n`);
}

/**
 * Accepts `flags` (e.g. `-e <name>` or `--dryrun`) as another spelling of the option whose long flag is
 * `target`: the value lands where the target's would, through its parser (so repeatable options still
 * collect). Hidden from help and completion. With `notice`, using it prints a one-line deprecation
 * notice on stderr.
 */
export function aliasOption<C>(cmd: C, flags: string, target: string, notice?: string): C {
  const c = cmd as unknown as Command;
  const t = c.options.find((o) => o.long === target);
  if (!t) throw new Error(`aliasOption: ${c.name()} has no ${target}`);
  const opt = new Option(flags).hideHelp();
  // Commander stores an option's value under attributeName(): the target's, so the action sees one key.
  opt.attributeName = () => t.attributeName();
  if (t.parseArg) opt.argParser(t.parseArg as (value: string, previous: unknown) => unknown);
  aliases.set(opt, { target, deprecated: notice !== undefined });
  c.addOption(opt);
  if (notice !== undefined) c.on(`option:${opt.name()}`, () => deprecationNotice(notice));
  return cmd;
}

/** A deprecated spelling: `old` still works this release, with a notice naming the new one. */
export function deprecatedOption<C>(cmd: C, flags: string, target: string, why = ""): C {
  const old = flags.split(/[ ,]/)[0];
  const t = (cmd as unknown as Command).options.find((o) => o.long === target);
  const now = t?.short ? `${t.short}/${target}` : target;
  return aliasOption(
    cmd,
    flags,
    target,
    `${old} is now ${now}${why ? ` (${why})` : ""}; ${old} goes in the next release`,
  );
}
