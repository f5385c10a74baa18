import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Starts dockerd and builds the local base image when missing (scripts/setup-docker.sh).
    globalSetup: ["test/support/docker-setup.ts"],
    // @actions/workflow-parser imports its JSON schema without import attributes; inlining lets Vite load it.
    server: { deps: { inline: ["@actions/workflow-parser", "@actions/expressions"] } },
  },
});
