// The SSRF guard: which resolved addresses a notification may connect to. No packet is sent:
// only names and addresses are checked.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { resolveTarget, RefusedTargetError, targetPolicy } from "./ssrf";
import { signatureHeaders } from "./senders";
import { newWebhookKey } from "./channels";

describe("notification target policy", () => {
  const strict = targetPolicy([]);

  it("refuses loopback, link-local and private addresses, IPv4 and IPv6, mapped ones too", () => {
    for (const [address, kind] of [
      ["127.0.0.1", "loopback"],
      ["::1", "loopback"],
      ["169.254.169.254", "link-local"],
      ["fe80::1", "link-local"],
      ["10.0.0.1", "private"],
      ["172.16.5.4", "private"],
      ["192.168.1.1", "private"],
      ["fd12:3456::1", "private"],
      ["::ffff:10.0.0.1", "private"],
      ["0.0.0.0", "reserved"],
    ] as const) {
      assert.match(strict.check(address) ?? "", new RegExp(`is a ${kind} address`), address);
    }
    assert.equal(strict.check("93.184.216.34"), null);
    assert.equal(strict.check("2606:4700::1111"), null);
  });

  it("allows what the server setting names: a class or a CIDR, nothing more", () => {
    const loop = targetPolicy(["loopback"]);
    assert.equal(loop.check("127.0.0.1"), null);
    assert.equal(loop.check("::1"), null);
    assert.match(loop.check("10.0.0.1") ?? "", /private/);
    const cidr = targetPolicy(["10.1.0.0/16"]);
    assert.equal(cidr.check("10.1.2.3"), null);
    assert.match(cidr.check("10.2.0.1") ?? "", /private/);
    assert.throws(() => targetPolicy(["intranet"]), /neither loopback, link-local, private nor a CIDR/);
  });

  it("checks the address a name resolves to (the one then connected to)", async () => {
    await assert.rejects(
      resolveTarget("localhost", strict),
      (err: Error) => err instanceof RefusedTargetError && /localhost resolves to .* loopback/.test(err.message),
    );
    await assert.rejects(resolveTarget("[::1]", strict), RefusedTargetError);
    assert.deepEqual(await resolveTarget("127.0.0.1", targetPolicy(["loopback"])), { address: "127.0.0.1", family: 4 });
  });
});

describe("webhook signatures", () => {
  it("sign with the current key, and with the previous one beside it during a rotation", () => {
    const [current, previous] = [newWebhookKey(), newWebhookKey()];
    const payload = JSON.stringify({ type: "test", timestamp: new Date().toISOString(), data: {} });
    const headers = signatureHeaders("msg_1", new Date(), payload, [current, previous]);
    assert.equal(headers["webhook-signature"]!.split(" ").length, 2);
    assert.ok(headers["webhook-signature"]!.split(" ").every((s) => s.startsWith("v1,")));
    // A receiver still on the old key and one already on the new key both verify.
    assert.ok(new Webhook(current).verify(payload, headers));
    assert.ok(new Webhook(previous).verify(payload, headers));
    assert.throws(() => new Webhook(newWebhookKey()).verify(payload, headers));
  });
});
