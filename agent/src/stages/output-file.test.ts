import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_OUTPUT_FILE_BYTES, parseOutputFile } from "./output-file";

const parse = (text: string) => parseOutputFile(Buffer.from(text));
const refused = (text: string | Buffer) => {
  try {
    parseOutputFile(Buffer.isBuffer(text) ? text : Buffer.from(text));
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail(`accepted ${JSON.stringify(text)}`);
};

describe("parseOutputFile", () => {
  it("reads key=value lines and key<<DELIMITER values, CRLF endings, empty lines; a later value wins", () => {
    const file =
      "version=1.2.3\r\n\nurl=http://x/?a=b\nnotes<<EOF\nline one\n\nline=three\nEOF\nempty=\nversion=1.2.4\nlast<<END\nEND\n";
    assert.deepEqual(parse(file), {
      version: "1.2.4",
      url: "http://x/?a=b",
      notes: "line one\n\nline=three",
      empty: "",
      last: "",
    });
    assert.deepEqual(parse(""), {});
    assert.deepEqual(parse("a-b_C9=<<not a heredoc"), { "a-b_C9": "<<not a heredoc" });
  });

  it("names the line and the problem of bad content", () => {
    assert.equal(
      refused("ok=1\njust text\n"),
      "$DOCKYARD_OUTPUT: line 2: 'just text' is neither key=value nor key<<DELIMITER",
    );
    assert.match(
      refused("ok=1\n\n9lives=x\n"),
      /^\$DOCKYARD_OUTPUT: line 3: key '9lives' must start with a letter or '_'/,
    );
    assert.match(refused("a.b=1"), /line 1: key 'a\.b' must/);
    assert.match(refused("=1"), /line 1: key '' must/);
    assert.equal(
      refused("x=1\nnotes<<EOF\nno end\n"),
      "$DOCKYARD_OUTPUT: line 2: no line 'EOF' ends the value of 'notes' begun here",
    );
    assert.match(refused("notes<<\n"), /line 1: 'notes<<' needs a delimiter/);
    assert.match(
      refused(`big=${"x".repeat(4097)}\n`),
      /line 1: the value of 'big' has 4097 bytes; at most 4096 are allowed/,
    );
    assert.match(refused(Array.from({ length: 65 }, (_, i) => `k${i}=v`).join("\n")), /line 65: more than 64 keys/);
    assert.equal(refused(Buffer.from([0x61, 0x3d, 0xff])), "$DOCKYARD_OUTPUT: the file is not valid UTF-8");
    const huge = Buffer.alloc(MAX_OUTPUT_FILE_BYTES + 1, "a=b\n");
    assert.equal(
      refused(huge),
      `$DOCKYARD_OUTPUT: the file has ${MAX_OUTPUT_FILE_BYTES + 1} bytes; at most ${MAX_OUTPUT_FILE_BYTES} are allowed`,
    );
    assert.deepEqual(Object.keys(parseOutputFile(huge.subarray(0, MAX_OUTPUT_FILE_BYTES))), ["a"]); // positive control: at the bound
  });
});
