/** The agent id of attempts the server runs itself (server-run kinds: approval). No agent row has it. */
export const SERVER_AGENT_ID = "server";
