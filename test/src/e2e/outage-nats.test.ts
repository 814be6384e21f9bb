// Our nats-server killed with SIGKILL and started again after 5 s, 30 s and 120 s:
// liveness is gRPC contact, wake-ups lost meanwhile are found by the agents' polls,
// and watchers read Postgres; nothing runs twice, no acknowledged line is lost.
import { outageSuite } from "../index";

outageSuite("nats", "NATS outage (kill -9 of our nats-server, then restart)");
