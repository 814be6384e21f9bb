// kill -9 of the server while it is sending notifications loses none: messages it had claimed
// are sent again once their lease lapses, under the same webhook-id, so the receiver, dropping
// duplicates by that id, sees each message exactly once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { OutageFarm, startHttpReceiver, waitFor, type HttpReceiver } from "../index";

const MESSAGES = 160;

describe("notifications across a server kill -9", { timeout: 180_000 }, () => {
  let farm: OutageFarm;
  let hook: HttpReceiver;

  before(async () => {
    // Slow answers: a batch of sends is in flight nearly all the time, so the kill catches one.
    hook = await startHttpReceiver({ delayMs: 1000 });
    farm = new OutageFarm({
      env: {
        DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
        DOCKYARD_NOTIFY_RETRY_SCALE: "0.001",
        DOCKYARD_NOTIFY_LEASE_MS: "2000",
      },
    });
    await farm.start();
    await farm.client.addChannel({ name: "crash-hook", type: "webhook", url: hook.url });
  });
  after(async () => {
    await farm?.stop();
    await hook?.close();
  });

  const count = async (where: string) =>
    (await farm.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE ${where}`)).rows[0]!.n;

  it("delivers every message, each webhook-id once after dedupe", async () => {
    await farm.pg.query(
      `INSERT INTO deliveries (id, channel, event, subject, body, payload, created_at, next_attempt_at, state)
       SELECT 'msg_crash' || g, 'crash-hook', 'test', 'crash {{ n }}', 'b', jsonb_build_object('context', jsonb_build_object('event', 'test', 'status', 'test', 'n', g)), now(), now(), 'pending'
       FROM generate_series(1, ${MESSAGES}) g`,
    );
    await waitFor(() => hook.received.length >= 30, { message: "deliveries under way", timeoutMs: 30_000 });
    await farm.killServer(0);
    // Sends in flight when it died: claimed (leased) and never recorded. The kill must have caught some.
    const inFlight = await count("state = 'pending' AND lease_id IS NOT NULL AND attempts = 0");
    assert.ok(inFlight > 0, "the kill came while messages were being sent");
    const deliveredBefore = await count("state = 'delivered'");
    assert.ok(deliveredBefore < MESSAGES, "the kill came before everything was sent");
    await farm.startServer(0);
    await waitFor(async () => (await count("state <> 'delivered'")) === 0, {
      message: "every message delivered",
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    const unique = hook.uniqueDelivered();
    const ids = (await farm.pg.query<{ id: string }>("SELECT id FROM deliveries")).rows.map((r) => r.id);
    const lost = ids.filter((id) => !unique.has(id));
    assert.deepEqual(lost, [], "no message lost");
    assert.equal(unique.size, MESSAGES, "each webhook-id once after dedupe");
    // The sends cut off by the kill reached the receiver and were sent again, under the same ids.
    assert.ok(hook.received.length > MESSAGES, `${hook.received.length} requests for ${MESSAGES} messages`);
  });
});
