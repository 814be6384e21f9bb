import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { tempDir } from "@dockyard/testkit";
import { createCliContext, type Input } from "../cli-context";
import { runCli } from "../program";

const sink = () => {
  let text = "";
  return {
    write: (s: string | Uint8Array) => (text += String(s)),
    get text() {
      return text;
    },
  };
};

/** Runs `dockyard validate dockyard.yml` in a directory holding `files`; returns the exit code and output. */
async function validate(files: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const dir = tempDir("validate-cli");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  const out = sink();
  const err = sink();
  const stdin = Readable.from([]) as unknown as Input;
  const cli = createCliContext({ out, err, env: {}, stdin });
  const code = await runCli(["validate", path.join(dir, "dockyard.yml")], cli);
  return { code, out: out.text.replace(`${dir}/`, ""), err: err.text.replaceAll(`${dir}/`, "") };
}

const PIPELINE =
  "name: web\nstages:\n  release: { type: update-service, service: web, file: services/web.yml, image: web:2 }\n";

test("validate checks the service file an update-service stage names, with its env file", async () => {
  const ok = await validate({
    "dockyard.yml": PIPELINE,
    "services/web.yml": "name: web\nport: 8080\nproxy_port: 9000\nenv_file: web.env\n",
    "services/web.env": "A=1\nTOKEN=${{ secrets.token }}\n",
  });
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, "dockyard.yml: ok (1 stage, 1 service file)\n");
});

test("problems of the service file and its env file are printed with their file, line and column", async () => {
  const bad = await validate({
    "dockyard.yml": PIPELINE,
    "services/web.yml": "name: api\nport: 8080\nproxy_port: 90\nenv_file: web.env\n",
    "services/web.env": "A=${{ stages.x }}\n",
  });
  assert.equal(bad.code, 1);
  assert.equal(bad.err, "services/web.yml:3:13: proxy_port: must be >= 1024, got 90\n");
  const names = await validate({
    "dockyard.yml": PIPELINE,
    "services/web.yml": "name: api\nport: 8080\nproxy_port: 9000\nenv_file: web.env\n",
    "services/web.env": "A=${{ stages.x }}\n",
  });
  assert.equal(
    names.err,
    "services/web.yml:1:7: name: the file declares service 'api' but the update-service stage updates 'web'\n" +
      "services/web.env:1:3: A: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal\n",
  );
});

test("a service file that is not there is left to the run; a missing env file is a problem", async () => {
  const absent = await validate({ "dockyard.yml": PIPELINE });
  assert.equal(absent.code, 0, absent.err);
  assert.equal(absent.out, "dockyard.yml: ok (1 stage)\n");
  const noEnv = await validate({
    "dockyard.yml": PIPELINE,
    "services/web.yml": "name: web\nport: 8080\nproxy_port: 9000\nenv_file: web.env\n",
  });
  assert.equal(noEnv.code, 1);
  assert.equal(noEnv.err, "services/web.yml:4:11: env_file: env_file 'services/web.env' does not exist\n");
});
