import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { listensOn, startDaemon } from "./daemon";
import { startPushgateway } from "./pushgateway";
import { removeTempDir, tempDir } from "./temp-dir";

test("a missing binary fails at once, naming it and how to install it", async () => {
  const dir = tempDir("testkit-daemon");
  await assert.rejects(
    startDaemon({ name: "nothing", bin: "dockyard-no-such-binary", dir, args: () => [] }),
    /dockyard-no-such-binary is not installed \(bash scripts\/setup.sh/,
  );
});

test("a daemon that exits before it is ready fails with the end of its log; a good one starts", async () => {
  const dir = tempDir("testkit-daemon");
  const bad = path.join(dir, "bad.yml");
  writeFileSync(bad, "global: {scrape_interval: nonsense}\n");
  await assert.rejects(
    startDaemon({
      name: "prometheus",
      bin: "prometheus",
      dir,
      args: (port) => [
        `--config.file=${bad}`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
    }),
    (err: Error) =>
      /prometheus exited \(code \d+\) before it was ready/.test(err.message) && /nonsense/.test(err.message),
  );
  // Positive control: the Pushgateway starts, answers, and its own dir goes with stop().
  const gw = await startPushgateway();
  assert.equal((await fetch(`${gw.url}/-/ready`)).status, 200);
  await gw.stop();
  assert.equal(existsSync(gw.dir), false);
});

test("a ready answer counts only from the daemon's own socket: another process on the port is told apart", async () => {
  const dir = tempDir("testkit-daemon");
  const gw = await startDaemon({
    name: "pushgateway",
    bin: "prometheus-pushgateway",
    dir,
    args: (port) => [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", "--log.level=warn"],
  });
  try {
    assert.equal(listensOn(gw.pid, gw.port), true, "the pushgateway holds its own port");
    assert.equal(listensOn(process.pid, gw.port), false, "this process does not hold it");
    assert.equal(listensOn(gw.pid, gw.port + 1), false, "nor does the pushgateway hold the next port");
  } finally {
    await gw.stop();
    removeTempDir(dir);
  }
});
