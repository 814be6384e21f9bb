// npm run bench -- notify
// 1,000 webhook deliveries through the outbox of a two-replica farm, produced at a steady
// 50 messages/s, while each replica is killed with SIGKILL once (and restarted) and the
// receiver is down for 10 s. Measured at a receiver that drops duplicates by webhook-id:
//  - lost: messages in the outbox the receiver never took (2xx);
//  - duplicates: messages (by their sequence number) the receiver took under more than one
//    webhook-id, i.e. duplicates its dedupe could not drop;
//  - first_attempt_p95_ms: outbox row written -> first attempt recorded (p95);
//  - redeliveries: requests for a webhook-id already taken (sent again after a kill; dropped).
// The retry schedule runs at 1/100 (5 s -> 50 ms, 5 min -> 3 s, 30 min -> 18 s) so the outage
// is ridden out within the run; a claim's lease is 3 s. Prints one JSON line last.
import { OutageFarm, freePort, startHttpReceiver, waitFor, type HttpReceiver } from "@dockyard/test";
import { quantile } from "./lib/stats";

const MESSAGES = Number(process.env.BENCH_NOTIFY_MESSAGES ?? 1000);
const RATE_PER_S = 50;
const OUTAGE_MS = 10_000;

const farm = new OutageFarm({
  replicas: 2,
  env: {
    DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
    DOCKYARD_NOTIFY_RETRY_SCALE: "0.01",
    DOCKYARD_NOTIFY_LEASE_MS: "3000",
  },
});
const port = await freePort();
const taken: { n: number; id: string }[] = [];
let receiver: HttpReceiver | null = null;
const startReceiver = async () => {
  const r = await startHttpReceiver({ port });
  r.respond = (req) => {
    const n = (JSON.parse(req.body) as { data: { n: number } }).data.n;
    taken.push({ n, id: String(req.headers["webhook-id"]) });
    return 200;
  };
  return r;
};

try {
  receiver = await startReceiver();
  await farm.start();
  await farm.client.addChannel({ name: "bench-hook", type: "webhook", url: `http://127.0.0.1:${port}/hook` });

  const produce = (async () => {
    const t0 = Date.now();
    for (let n = 1; n <= MESSAGES; n += 5) {
      await farm.pg.query(
        `INSERT INTO deliveries (id, channel, event, subject, body, payload, created_at, next_attempt_at, state)
         SELECT 'msg_bench' || g, 'bench-hook', 'bench', 'bench {{ n }}', 'b', jsonb_build_object('context', jsonb_build_object('event', 'bench', 'status', 'bench', 'n', g)),
           clock_timestamp(), clock_timestamp(), 'pending'
         FROM generate_series($1::int, $2::int) g`,
        [n, Math.min(MESSAGES, n + 4)],
      );
      const due = t0 + ((n + 4) / RATE_PER_S) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
  })();
  const at = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const chaos = (async () => {
    await at(4_000);
    await farm.killServer(0);
    await farm.startServer(0);
    await at(2_000);
    await receiver!.close();
    await at(OUTAGE_MS);
    receiver = await startReceiver();
    await farm.killServer(1);
    await farm.startServer(1);
  })();
  await Promise.all([produce, chaos]);
  await waitFor(
    async () =>
      (await farm.pg.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries WHERE state = 'pending'")).rows[0]!
        .n === 0,
    {
      message: "every delivery settled",
      timeoutMs: 300_000,
      intervalMs: 500,
    },
  );
  const rows = (
    await farm.pg.query<{ id: string; state: string; first_ms: number | null }>(
      `SELECT d.id, d.state, extract(epoch FROM (a.at - d.created_at)) * 1000 AS first_ms
       FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id AND a.number = 1`,
    )
  ).rows;
  const takenIds = new Set(taken.map((t) => t.id));
  const idsByN = new Map<number, Set<string>>();
  for (const t of taken) idsByN.set(t.n, (idsByN.get(t.n) ?? new Set()).add(t.id));
  console.log(
    JSON.stringify({
      bench: "notify",
      deliveries: rows.length,
      lost: rows.filter((r) => !takenIds.has(r.id)).length,
      duplicates: [...idsByN.values()].filter((ids) => ids.size > 1).length,
      first_attempt_p95_ms: Math.round(
        quantile(
          rows.map((r) => Number(r.first_ms ?? Infinity)),
          0.95,
        ),
      ),
      first_attempt_p50_ms: Math.round(
        quantile(
          rows.map((r) => Number(r.first_ms ?? Infinity)),
          0.5,
        ),
      ),
      redeliveries: taken.length - takenIds.size,
      failed: rows.filter((r) => r.state !== "delivered").length,
      kills: 2,
      receiver_outage_s: OUTAGE_MS / 1000,
    }),
  );
} finally {
  await receiver?.close();
  await farm.stop();
}
process.exit(0);
