// How the path files of the OpenAPI document (openapi/*.ts) describe an operation, in brief; openapi.ts
// expands each into the operation object with its security, parameters, request body and responses.
export type Op = {
  summary: string;
  role?: string;
  body?: Record<string, unknown>;
  params?: string[];
  query?: string[];
  /** The 200 answer: a schema of components.schemas, or a tar stream. */
  response?: { schema: string } | "tar" | "tar-or-zip" | "zip";
  /** The request body is a tar stream (application/x-tar), not JSON. */
  tarBody?: boolean;
};
