export { tempDir, removeOnExit, removeTempDir } from "./temp-dir";
export { LoadClient, getBody, type LoadClientOptions } from "./load-client";
export { freePort } from "./free-port";
export { startPushgateway } from "./pushgateway";
