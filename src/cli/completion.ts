// `slipway completion bash|zsh|fish`: a tab-completion script made from the whole command tree (every
// group loaded), so a command or flag added anywhere is completed without editing a script by hand. The
// script holds the tree as data (one `case` per command path) and one small walker per shell: the words
// typed so far that name subcommands give the path; then subcommands, flags or (after a flag that takes
// a value) file names are offered.
import { Argument, type Command } from "@commander-js/extra-typings";
import { UserError } from "../lib/errors.js";
import { slipwayVersion } from "../lib/version.js";

export const shells = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof shells)[number];

/** One command path's completions: `deploy` → its subcommands and flags. */
export type CompletionNode = {
  path: string;
  commands: { name: string; description: string }[];
  options: { flags: string[]; description: string; takesValue: boolean }[];
  /** Values of the first argument when it has fixed choices (`completion <shell>`). */
  choices: string[];
};

type Internal = Command & { _hidden?: boolean; registeredArguments: { argChoices?: string[] }[] };

/** The visible commands and options of the tree, depth first; hidden ones (and aliases) are not offered. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (cmd: Internal, path: string) => {
    const subs = (cmd.commands as Internal[]).filter((c) => !c._hidden);
    const options = cmd.options
      .filter((o) => !o.hidden)
      .map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => !!f),
        description: o.description,
        takesValue: o.required || o.optional,
      }));
    options.push({ flags: ["-h", "--help"], description: "display help for command", takesValue: false });
    nodes.push({
      path,
      commands: subs.map((c) => ({ name: c.name(), description: c.description() })),
      options,
      choices: cmd.registeredArguments[0]?.argChoices ?? [],
    });
    for (const c of subs) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program as Internal, "");
  return nodes;
}

const words = (n: CompletionNode) => [...n.commands.map((c) => c.name), ...n.choices].join(" ");
const flagWords = (n: CompletionNode) => n.options.flatMap((o) => o.flags).join(" ");
const valueFlags = (n: CompletionNode) =>
  n.options
    .filter((o) => o.takesValue)
    .flatMap((o) => o.flags)
    .join(" ");

export function bashScript(tree: CompletionNode[]): string {
  const cases = tree
    .map(
      (n) =>
        `    "${n.path}") _slipway_cmds="${words(n)}" _slipway_opts="${flagWords(n)}" _slipway_vals="${valueFlags(n)}" ;;`,
    )
    .join("\n");
  return `# slipway ${slipwayVersion} completion for bash, made by \`slipway completion bash\` from its commands
_slipway_words() {
  _slipway_cmds="" _slipway_opts="" _slipway_vals=""
  case "$1" in
${cases}
  esac
}

_slipway() {
  # Under zsh's bashcompinit the words are a zsh array: index them from 0, as bash does.
  [[ -n "\${ZSH_VERSION-}" ]] && setopt localoptions ksharrays
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" w i
  local _slipway_cmds _slipway_opts _slipway_vals
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    _slipway_words "$path"
    if [[ " $_slipway_cmds " == *" $w "* ]]; then path="\${path:+$path }$w"; fi
  done
  _slipway_words "$path"
  if [[ " $_slipway_vals " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$_slipway_opts" -- "$cur"))
  elif [[ -n "$_slipway_cmds" ]]; then
    COMPREPLY=($(compgen -W "$_slipway_cmds" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}

complete -o filenames -F _slipway slipway
`;
}

/** zsh runs the bash script through its bashcompinit layer: one walker to keep right, in both shells. */
export function zshScript(tree: CompletionNode[]): string {
  return `#compdef slipway
# slipway ${slipwayVersion} completion for zsh: \`source <(slipway completion zsh)\` in ~/.zshrc
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree)}`;
}

const fishQuote = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

export function fishScript(tree: CompletionNode[]): string {
  const subs = tree
    .map((n) => `        case ${fishQuote(n.path)}\n            printf '%s\\n' ${words(n) || "''"}`)
    .join("\n");
  const lines: string[] = [];
  for (const n of tree) {
    const when = `-n ${fishQuote(`__slipway_at ${n.path}`)}`;
    for (const c of n.commands)
      lines.push(`complete -c slipway ${when} -a ${fishQuote(c.name)} -d ${fishQuote(c.description)}`);
    for (const v of n.choices) lines.push(`complete -c slipway ${when} -a ${fishQuote(v)}`);
    for (const o of n.options) {
      const f = o.flags.map((x) => (x.startsWith("--") ? `-l ${x.slice(2)}` : `-s ${x.slice(1)}`)).join(" ");
      lines.push(
        `complete -c slipway ${when} ${f}${o.takesValue ? " -r -F" : ""} -d ${fishQuote(o.description)}`,
      );
    }
  }
  return `# slipway ${slipwayVersion} completion for fish, made by \`slipway completion fish\` from its commands
function __slipway_subs
    switch "$argv"
${subs}
    end
end

# True when the words typed so far name exactly this command path.
function __slipway_at
    set -l path
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; and continue
        if contains -- $w (__slipway_subs "$path")
            set path (string trim -- "$path $w")
        end
    end
    test "$path" = "$argv"
end

complete -c slipway -f
${lines.join("\n")}
`;
}

export function completionScript(shell: string, tree: CompletionNode[]): string {
  if (shell === "bash") return bashScript(tree);
  if (shell === "zsh") return zshScript(tree);
  if (shell === "fish") return fishScript(tree);
  throw new UserError(`completion: unknown shell ${JSON.stringify(shell)} (one of ${shells.join(", ")})`);
}

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print a tab-completion script for bash, zsh or fish, made from every command and flag")
    .addArgument(new Argument("<shell>", shells.join(", ")).choices(shells))
    .action(async (shell: string) => {
      // The whole tree, not this program (which holds only this command): every group is loaded.
      const { loadFullProgram } = await import("./program.js");
      process.stdout.write(completionScript(shell, completionTree(await loadFullProgram())));
    });
}
