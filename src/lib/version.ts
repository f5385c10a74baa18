// slipway's own version, read from package.json (the one place it is written), and bundled with the CLI.
import pkg from "../../package.json" with { type: "json" };

export const slipwayVersion: string = pkg.version;
