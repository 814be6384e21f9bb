// Counters the farm's `/metrics` reports, kept in Postgres: every replica reads the same value,
// a restart loses nothing, and pruning the rows a count was taken from (finished deliveries after
// their retention) never makes a counter go down, which Prometheus would read as a reset.
import { pgTable, text, bigint, primaryKey } from "drizzle-orm/pg-core";

export const farmCounters = pgTable(
  "farm_counters",
  {
    /** The metric's name, e.g. `dockyard_service_rollbacks_total`. */
    name: text("name").notNull(),
    /** Its labels as a JSON object with sorted keys (`{}` for none): one row per series. */
    labels: text("labels").notNull(),
    value: bigint("value", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.name, t.labels] })],
);
