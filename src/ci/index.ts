// CI: the service behind `slipway serve`. Repositories have a mirror the server fetches on every
// trigger; webhooks, polls, crons and dispatches become runs in the store; each run's job graph is
// driven by the runner domain's engine with legs queued for runners (the server's own or remote ones).
// Invariants: a leg recorded as finished is never run again (re-runs carry over what they do not
// re-run; a restarted server drives unfinished runs again from what is recorded); every leg ends in a
// definite state with a reason; a webhook delivery starts runs at most once.
export { type BackgroundOptions, runBackground } from "./background.js";
export { RunnerApi } from "./runner-api.js";
export { type CiEvent, type CiOptions, CiService, type RerunRequest } from "./service.js";
