// The services' client operations, shared by the gRPC and HTTP edges (like RunsService for runs):
// list with per-host health, history, and the rollback entry point.
import type { RollbackView, ServiceHistoryView, ServiceView } from "@dockyard/web";
import type { Db } from "../store/db";
import type { Clock } from "../clock";
import type { Caller } from "../transport/grpc/caller";
import type { ServerSignal } from "../stages/kind";
import { InvalidError } from "../errors";
import { SERVICE_NAME_PATTERN } from "@dockyard/pipeline";
import { serviceHistoryView, serviceViews } from "./service-views";
import { requestRollback, type RollbackRequest } from "./rollback";

export interface ServicesApiDeps {
  db: Db;
  clock: Clock;
  /** Signal a server stage (an update in progress): the server stage runner's. */
  signal?(runId: string, stage: string, signal: ServerSignal): Promise<void>;
  /** Submit a pipeline as `caller` (a rollback run); answers the run's id. */
  submit(yaml: string, caller: Caller): Promise<string>;
}

function checkName(name: string): string {
  if (!SERVICE_NAME_PATTERN.test(name))
    throw new InvalidError(`invalid service '${name.slice(0, 64)}': 1-63 of a-z 0-9 - starting with a letter or digit`);
  return name;
}

export class ServicesApi {
  constructor(private readonly deps: ServicesApiDeps) {}

  list(name?: string): Promise<ServiceView[]> {
    return serviceViews(this.deps.db, name ? checkName(name) : undefined);
  }

  history(name: string): Promise<ServiceHistoryView[]> {
    return serviceHistoryView(this.deps.db, checkName(name));
  }

  rollback(name: string, req: Omit<RollbackRequest, "service">, caller: Caller): Promise<RollbackView> {
    const { signal } = this.deps;
    if (!signal) throw new InvalidError("this server runs no server stages");
    return requestRollback(
      {
        db: this.deps.db,
        signal,
        submit: (yaml) => this.deps.submit(yaml, caller),
        now: () => this.deps.clock.now(),
      },
      { service: checkName(name), ...req },
      caller,
    );
  }
}
