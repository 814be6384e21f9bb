// One server process with the test-only server kinds registered (a test kills it with SIGKILL).
import { serverMain } from "@dockyard/control-plane";
import { fanout } from "../helpers/fanout-kind";

await serverMain(process.env, { serverKinds: { fanout } });
