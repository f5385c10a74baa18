// Checks of the flags `slipway serve` and `slipway runner` share: whole numbers, and the actions settings
// (--actions-url, --actions-offline). Checked when the command starts, so a bad value stops it at once.
import { UserError } from "../lib/errors.js";
import { type ActionSourceSettings, actionSource, validateActionsUrl } from "../runner/index.js";

export function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${flag} must be a whole number, got '${v}'`);
  return n;
}

/**
 * The actions settings given by flags (only those given: the environment's apply through actionSource,
 * and a runner's unset ones defer to the server's); checked now, so a bad URL stops the start.
 */
export function actionSettings(flags: {
  actionsUrl?: string;
  actionsOffline?: boolean;
}): ActionSourceSettings {
  const settings: ActionSourceSettings = {
    ...(flags.actionsUrl !== undefined ? { url: validateActionsUrl(flags.actionsUrl, "--actions-url") } : {}),
    ...(flags.actionsOffline ? { offline: true } : {}),
  };
  actionSource(settings);
  return settings;
}
