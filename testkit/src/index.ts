export { tempDir, removeOnExit, removeTempDir } from "./temp-dir";
export { LoadClient, getBody, type LoadClientOptions } from "./load-client";
export { freePort } from "./free-port";
export { startPushgateway, type Pushgateway, type PushgatewayOptions } from "./pushgateway";
export { startMonitoring, type Monitoring, type MonitoringOptions } from "./monitoring";
export {
  renderMonitoringConfig,
  OPS_DIR,
  type MonitoringConfig,
  type MonitoringConfigOptions,
} from "@dockyard/ops/monitoring";
export { logTail } from "./daemon";
