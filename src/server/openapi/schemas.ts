// Response shapes of the OpenAPI document (../openapi.ts): what the dashboard and clients read.
/** The shapes the dashboard and clients read; kept next to the routes that answer them. */
export const schemas: Record<string, unknown> = {
  Annotation: {
    type: "object",
    description: "A ::error/::warning/::notice workflow command of a job, secrets masked",
    required: ["level", "message"],
    properties: {
      level: { enum: ["error", "warning", "notice"] },
      message: { type: "string" },
      file: { type: "string" },
      line: { type: "integer" },
      endLine: { type: "integer" },
      col: { type: "integer" },
      endColumn: { type: "integer" },
      title: { type: "string" },
      stepNumber: {
        type: "integer",
        description:
          "The step that made it, 1-based as the job's steps are listed; absent: not made in a step",
      },
      stepName: { type: "string" },
    },
  },
  RunView: {
    type: "object",
    description:
      "A run, its attempts and their jobs; each job has its steps, `annotations` (Annotation[]) and `summary` (the Markdown its steps wrote to $GITHUB_STEP_SUMMARY, secrets masked; empty when none)",
    properties: {
      run: { type: "object" },
      approvals: { type: "array" },
      attempts: {
        type: "array",
        items: {
          type: "object",
          properties: {
            attempt: { type: "integer" },
            jobs: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  steps: { type: "array" },
                  annotations: { type: "array", items: { $ref: "#/components/schemas/Annotation" } },
                  summary: { type: "string" },
                  environmentUrl: {
                    type: "string",
                    description:
                      'environment.url as the job\'s runner evaluated it when the job ended (steps context included); "" for none; absent when not reported',
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  Artifact: {
    type: "object",
    description: "An artifact a run's job uploaded (ready and unexpired)",
    required: ["id", "name", "size", "files", "digest", "createdAt", "expiresAt", "url"],
    properties: {
      id: { type: "integer" },
      name: { type: "string" },
      size: { type: "integer", description: "bytes of its files" },
      files: { type: "integer" },
      digest: { type: "string", description: "sha256, as upload-artifact's artifact-digest output" },
      createdAt: { type: "integer", description: "epoch milliseconds" },
      expiresAt: { type: "integer", description: "epoch milliseconds" },
      url: { type: "string", description: "where to download it (GET, viewer)" },
    },
  },
  ArtifactList: {
    type: "object",
    properties: {
      run: { type: "integer" },
      artifacts: { type: "array", items: { $ref: "#/components/schemas/Artifact" } },
    },
  },
};
