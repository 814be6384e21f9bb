// Bounds of stage artifacts (artifact.proto), part of the wire contract: the agent checks
// them before it uploads (and logs what it skips), the server checks them again on upload.

/** Largest artifact: a screenshot or a report, not a build output (those go to a registry). */
export const MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;
/** What one attempt may store in all. */
export const MAX_ATTEMPT_ARTIFACT_BYTES = 50 * 1024 * 1024;
export const MAX_ATTEMPT_ARTIFACTS = 100;
export const MAX_ARTIFACT_NAME = 128;

/** Safe as a file name and in a Content-Disposition header; no leading dot (no hidden or `..` names). */
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** type/subtype, optionally `; charset=...`: enough for what stages store, nothing to inject into a header. */
const CONTENT_TYPE =
  /^(text|image|application|audio|video|font)\/[a-z0-9][a-z0-9.+_-]{0,100}(; ?charset=[a-z0-9_-]{1,40})?$/;

/** What is wrong with an artifact name, or null. */
export function artifactNameProblem(name: string): string | null {
  if (name === "") return "artifact name is empty";
  if (name.length > MAX_ARTIFACT_NAME)
    return `artifact name is ${name.length} characters; the limit is ${MAX_ARTIFACT_NAME}`;
  if (!NAME.test(name))
    return `invalid artifact name '${name.slice(0, 64)}': use letters, digits, '.', '_' and '-', not starting with '.'`;
  return null;
}

/** What is wrong with a content type, or null. */
export function contentTypeProblem(contentType: string): string | null {
  if (!CONTENT_TYPE.test(contentType))
    return (
      `invalid content type '${contentType.slice(0, 64)}': expected type/subtype in lower case ` +
      `(text, image, application, audio, video or font), e.g. image/png`
    );
  return null;
}

const BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  html: "text/html; charset=utf-8",
  json: "application/json",
  xml: "application/xml",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
};

/** The content type a file's name suggests (application/octet-stream when it suggests none). */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot > 0 && BY_EXTENSION[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}
