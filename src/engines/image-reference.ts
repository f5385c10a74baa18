// Image references split into what the Engine API takes apart: the repository name, and a tag or a digest.
// Pure, so that tagging, pushing and pulling agree on where a registry's port ends and a tag begins.

/** `registry:5000/team/app:1.0` → `{ name: "registry:5000/team/app", tag: "1.0" }` (tag default `latest`). */
export function splitReference(reference: string): { name: string; tag?: string; digest?: string } {
  const at = reference.indexOf("@");
  if (at >= 0) return { name: reference.slice(0, at), digest: reference.slice(at + 1) };
  const slash = reference.lastIndexOf("/");
  const colon = reference.lastIndexOf(":");
  if (colon > slash) return { name: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  return { name: reference };
}
