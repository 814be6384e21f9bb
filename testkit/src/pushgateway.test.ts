import { test } from "node:test";
import assert from "node:assert/strict";
import { startPushgateway } from "./pushgateway";

const pushed = (url: string) =>
  fetch(`${url}/metrics/job/dockyard_synthetic/journey/probe`, { method: "PUT", body: "probe_value 1\n" });
const holds = async (url: string) => (await (await fetch(`${url}/metrics`)).text()).includes("probe_value");

test("each gateway starts empty: what one test pushed never shows in the next one's (no shared persistence file)", async () => {
  const first = await startPushgateway();
  try {
    assert.equal((await pushed(first.url)).status, 200);
    assert.equal(await holds(first.url), true, "the push is visible where it went (the check can see it)");
  } finally {
    await first.stop();
  }
  const second = await startPushgateway();
  try {
    assert.equal(await holds(second.url), false, "a new gateway holds nothing of the previous one's pushes");
  } finally {
    await second.stop();
  }
});
