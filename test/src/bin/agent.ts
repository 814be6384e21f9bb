// Runs one agent process from the environment (tests spawn it to kill -9 it).
import { agentMain } from "@dockyard/agent";

await agentMain(process.env);
