import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { parsePushEvent } from "./push-event";
import { verifyDelivery } from "./push-signature";

const sha = "a".repeat(40);
const push = (ref: string, after = sha, extra: object = {}) => JSON.stringify({ ref, after, ...extra });

test("push events: branch and commit; tags, deletions and other events are ignored saying why", () => {
  assert.deepEqual(parsePushEvent("github", "push", "application/json", push("refs/heads/release/v1")), {
    kind: "push",
    branch: "release/v1",
    commit: sha,
  });
  const form = `payload=${encodeURIComponent(push("refs/heads/main"))}`;
  assert.deepEqual(parsePushEvent("github", "push", "application/x-www-form-urlencoded", form), {
    kind: "push",
    branch: "main",
    commit: sha,
  });
  assert.match(
    (parsePushEvent("github", "push", "", push("refs/tags/v1")) as { reason: string }).reason,
    /refs\/tags\/v1 is a tag/,
  );
  assert.deepEqual(parsePushEvent("github", "push", "", push("refs/heads/gone", "0".repeat(40), { deleted: true })), {
    kind: "ignored",
    reason: "branch 'gone' was deleted",
  });
  assert.deepEqual(parsePushEvent("gitlab", "Merge Request Hook", "", "{}"), {
    kind: "ignored",
    reason: "event 'Merge Request Hook' is not a Push Hook",
  });
  assert.throws(() => parsePushEvent("github", "push", "", "[1]"), /must be a JSON object/);
  assert.throws(
    () => parsePushEvent("github", "push", "", push("main")),
    /body field 'ref' must be refs\/heads\/BRANCH/,
  );
  assert.throws(
    () => parsePushEvent("github", "push", "application/x-www-form-urlencoded", "x=1"),
    /carry the event as its 'payload' field/,
  );
});

test("signatures: GitHub HMAC over the exact body, GitLab token; delivery id checked after", () => {
  const body = push("refs/heads/main");
  const sig = `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`;
  const gh = { "x-github-event": "push", "x-github-delivery": "d-1", "x-hub-signature-256": sig };
  assert.deepEqual(verifyDelivery("app", "s3cret", gh, body), { style: "github", event: "push", delivery: "d-1" });
  assert.throws(() => verifyDelivery("app", "s3cret", gh, `${body} `), /does not match the body/);
  assert.throws(() => verifyDelivery("app", "other", gh, body), /does not match the body/);
  assert.throws(
    () => verifyDelivery("app", "s3cret", { ...gh, "x-github-delivery": "bad id!" }, body),
    /X-GitHub-Delivery must be/,
  );
  const gl = { "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "u-1", "x-gitlab-token": "s3cret" };
  assert.equal(verifyDelivery("app", "s3cret", gl, body).style, "gitlab");
  assert.throws(() => verifyDelivery("app", "s3cre", gl, body), /X-Gitlab-Token is not this repository's secret/);
  assert.throws(() => verifyDelivery("app", "s3cret", { ...gh, ...gl }, body), /not both/);
});
