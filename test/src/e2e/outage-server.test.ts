// The server killed with SIGKILL and started again after 5 s, 30 s and 120 s while
// a run's stages are running: they run on, the ones that finished meanwhile are
// recorded from the agents' spools, nothing runs twice, no acknowledged line is lost.
import { outageSuite } from "../index";

outageSuite("server", "server outage (kill -9, then restart)");
