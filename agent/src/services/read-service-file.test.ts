// `read` on a real directory: the service file and the env file it names, as texts; a missing
// file, a path out of the source (by .. or a symbolic link) and an oversized file are
// refused, each naming the path.
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "@dockyard/testkit";
import { MAX_SERVICE_FILE_BYTES, readServiceFiles } from "./read-service-file";

function source(files: Record<string, string>): string {
  const dir = tempDir("service-source");
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe("reading a service file from the run's source", () => {
  it("returns the service file and the env file it names, relative to its own directory", async () => {
    const svc = "name: web\nenv_file: ../shared/web.env\nimage: nginx\n";
    const dir = source({ "services/web.yaml": svc, "shared/web.env": "A=1\n" });
    assert.deepEqual(await readServiceFiles(dir, "services/web.yaml"), { serviceFile: svc, envFile: "A=1\n" });
  });

  it("returns no env file when the service file names none", async () => {
    const dir = source({ "web.yaml": "name: web\n" });
    assert.deepEqual(await readServiceFiles(dir, "web.yaml"), { serviceFile: "name: web\n", envFile: null });
  });

  it("names a missing service file or env file", async () => {
    const dir = source({ "web.yaml": "env_file: web.env\n" });
    await assert.rejects(readServiceFiles(dir, "api.yaml"), /service file 'api.yaml' is not in the run's source/);
    await assert.rejects(
      readServiceFiles(dir, "web.yaml"),
      /env file 'web.env' \(named by 'web.yaml'\) at 'web.env' is not in the run's source/,
    );
  });

  it("refuses paths out of the source, by .. or by a symbolic link", async () => {
    const outside = source({ "secret.env": "KEY=x\n" });
    const dir = source({
      "a/web.yaml": "env_file: ../../x.env\n",
      "b/web.yaml": "env_file: link.env\n",
      "c/web.yaml": "env_file: /etc/hostname\n",
    });
    symlinkSync(path.join(outside, "secret.env"), path.join(dir, "b/link.env"));
    await assert.rejects(
      readServiceFiles(dir, "../web.yaml"),
      /service file '..\/web.yaml' is outside the run's source/,
    );
    await assert.rejects(
      readServiceFiles(dir, "a/web.yaml"),
      /env file '..\/..\/x.env' \(named by 'a\/web.yaml'\) at '..\/x.env' is outside the run's source/,
    );
    await assert.rejects(
      readServiceFiles(dir, "b/web.yaml"),
      /env file 'link.env' \(named by 'b\/web.yaml'\) at 'b\/link.env' is a link to a file outside the run's source/,
    );
    await assert.rejects(
      readServiceFiles(dir, "c/web.yaml"),
      /env_file '\/etc\/hostname' must be relative to its directory/,
    );
  });

  it("refuses a file over 64 KiB, and YAML that does not parse", async () => {
    const dir = source({
      "big.yaml": `# ${"x".repeat(MAX_SERVICE_FILE_BYTES)}\n`,
      "bad.yaml": "a: [1\n",
      "ok.yaml": `# ${"x".repeat(MAX_SERVICE_FILE_BYTES - 3)}\n`,
    });
    await assert.rejects(readServiceFiles(dir, "big.yaml"), /service file 'big.yaml' is over 64 KiB/);
    await assert.rejects(readServiceFiles(dir, "bad.yaml"), /service file 'bad.yaml' is not valid YAML/);
    assert.equal((await readServiceFiles(dir, "ok.yaml")).serviceFile.length, MAX_SERVICE_FILE_BYTES);
  });
});
