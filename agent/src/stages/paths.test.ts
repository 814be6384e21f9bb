import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { inside } from "./paths";

test("a path inside the run's source resolves, from a relative or absolute root; an escape is refused by name", () => {
  assert.equal(inside(".dockyard/agent/sources/r/tree", "."), path.resolve(".dockyard/agent/sources/r/tree"));
  assert.equal(inside("/tmp/src", "app/Dockerfile"), "/tmp/src/app/Dockerfile");
  assert.throws(() => inside("/tmp/src", "../etc/passwd"), /'\.\.\/etc\/passwd' is outside the run's source/);
  assert.throws(() => inside("rel/src", "/etc"), /'\/etc' is outside the run's source/);
});
