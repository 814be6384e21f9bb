// `update-service`: the server's coordinator of a rolling update (see services/coordinator.ts).
export { updateService } from "../services/coordinator";
