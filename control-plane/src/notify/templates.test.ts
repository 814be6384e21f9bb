// Message templates: placeholders filled from the context, secret values masked wherever they
// appear (a longer secret containing a shorter one is masked whole), bad templates named.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  maskDeep,
  renderTemplate,
  templateProblems,
  DEFAULT_BODY,
  DEFAULT_SUBJECT,
  type NotifyContext,
} from "./templates";

const context: NotifyContext = {
  event: "run.failed",
  status: "failed",
  run: { id: "r1", name: "web", number: 7, state: "failed" },
  stage: { name: "test", state: "failed" },
  outputs: { build: { image: "reg/web:1", token: "tok-abcdefgh" } },
  links: { run: "http://x/api/v1/runs/r1" },
};

describe("notification templates", () => {
  it("fill placeholders; unknown ones render empty", () => {
    assert.equal(
      renderTemplate("{{ run.name }}#{{run.number}} {{ status }} {{ outputs.build.image }} {{ nope.x }}", context, []),
      "web#7 failed reg/web:1 ",
    );
    assert.equal(renderTemplate(DEFAULT_SUBJECT, context, []), "[dockyard] web #7 failed");
    assert.equal(
      renderTemplate(DEFAULT_BODY, context, []),
      "Run web #7 (r1) failed. Stage test: failed.\nhttp://x/api/v1/runs/r1",
    );
  });

  it("mask every secret value, longest first, in text and in nested data", () => {
    assert.equal(renderTemplate("t={{ outputs.build.token }}", context, ["abcdefgh", "tok-abcdefgh"]), "t=***");
    assert.deepEqual(maskDeep({ a: ["x tok-abcdefgh"], b: { c: "tok-abcdefgh" }, n: 3 }, ["tok-abcdefgh"]), {
      a: ["x ***"],
      b: { c: "***" },
      n: 3,
    });
  });

  it("name a stray brace or an oversized template", () => {
    assert.deepEqual(templateProblems("{{ run.name }} ok"), []);
    assert.match(templateProblems("{{ run name }}")[0] ?? "", /not a placeholder/);
    assert.match(templateProblems("x".repeat(5000))[0] ?? "", /limit is 4096/);
  });
});
