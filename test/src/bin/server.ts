// Runs one server process from the environment (tests start a second replica with it).
import { serverMain } from "@dockyard/control-plane";

await serverMain(process.env);
