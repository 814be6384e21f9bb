import type { Assignment } from "@dockyard/proto";
import type { RegistryAuth } from "../docker/registry";

/** The run's registry and its credentials (the password arrived over TLS and is masked like a secret). */
export function registryAuth(a: Assignment): RegistryAuth | null {
  const r = a.spec?.registry;
  if (!r?.address) return null;
  return {
    server: r.address,
    username: r.username || undefined,
    password: r.password.length ? Buffer.from(r.password).toString("utf8") : undefined,
  };
}
