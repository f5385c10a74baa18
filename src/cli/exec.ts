// `slipway exec SERVICE -- CMD ARGS…`: a command in (docker) or beside (process: the instance's directory
// and environment) one of a deployed service's instances, its input and output attached (Kamal's `app
// exec`); with a terminal on stdin, a container gets one too. The command's exit code is slipway's. It runs
// with the instance's environment, secrets included: only the agent's own user can ask for it (the socket
// is that user's, socket.ts), and never through a server.
import type { Command } from "@commander-js/extra-typings";
import { execInInstance } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import { commonOptions, type EnvFlags } from "./deploy-target.js";
import { localOnly } from "./deploy-remote.js";
import { instanceTarget } from "./instance-target.js";

type ExecFlags = EnvFlags & { instance?: string; server?: string | boolean; tty?: boolean };

export function registerExec(program: Command) {
  commonOptions(
    program
      .command("exec")
      .description(
        "run a command in one of a deployed service's instances (docker) or beside it with its environment (process)",
      ),
  )
    .argument("<service>", "a service of slipway.yaml's deploy: section")
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--instance <id>", "this instance (default: the service's first running instance)")
    .option("--no-tty", "no terminal for the command, even when stdin is one")
    .addHelpText(
      "after",
      "\nExamples:\n  slipway exec api -- node -e 'console.log(process.env.DATABASE_URL)'\n  slipway exec api --env staging --instance api-r3-2 -- sh\n\nExit code: the command's (2 when the service, instance or environment is unknown).\n",
    )
    .action(async (service, command, flags) => {
      const f = flags as ExecFlags;
      if (f.server !== undefined) localOnly("exec");
      if (command.length === 0) throw new UserError("exec: no command (slipway exec SERVICE -- CMD ARGS…)");
      const t = await instanceTarget(f);
      const stdin = process.stdin;
      const tty = f.tty !== false && !!stdin.isTTY && !!process.stdout.isTTY;
      // Raw mode only once the agent has given the command a terminal (a container's); a process gets
      // pipes, and Ctrl-C then stops slipway, which ends the command.
      let raw = false;
      try {
        process.exitCode = await execInInstance(
          t.paths.socketPath,
          { service, instance: f.instance, command, tty },
          {
            stdin,
            stdout: (b) => process.stdout.write(b),
            stderr: (b) => process.stderr.write(b),
            size: () => (tty ? { rows: process.stdout.rows, cols: process.stdout.columns } : undefined),
            onResize: (l) => process.stdout.on("resize", l),
            onAttached: (a) => {
              if (a.tty && tty) {
                stdin.setRawMode(true);
                raw = true;
              }
            },
          },
        );
      } finally {
        if (raw) stdin.setRawMode(false);
        // stdin was read from: let the process end without waiting for more input.
        stdin.pause();
        stdin.unref?.();
      }
    });
}
