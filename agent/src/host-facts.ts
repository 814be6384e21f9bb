// Facts about the host that become the agent's labels, so a stage can ask for `arch: arm64` or
// `memory` without anyone labelling each host by hand. The operator's labels (DOCKYARD_AGENT_LABELS)
// are laid over them: a given label with the same key wins.
import { readFileSync } from "node:fs";
import os from "node:os";
import type Dockerode from "dockerode";

/** The keys this module sets; every one of them is a plain label afterwards. */
export const HOST_FACT_KEYS = ["os", "distro", "arch", "cpus", "memory", "docker"] as const;

/** `ID-VERSION_ID` from /etc/os-release (debian-12), or null when unreadable. */
export function distroOf(text: string): string | null {
  const field = (name: string) => new RegExp(`^${name}=("?)([^"\\n]*)\\1$`, "m").exec(text)?.[2] ?? "";
  const id = field("ID");
  if (!id) return null;
  const version = field("VERSION_ID");
  const value = version ? `${id}-${version}` : id;
  return /^[A-Za-z0-9._-]{1,64}$/.test(value) ? value : null;
}

/** Memory in GiB as a label value: whole GiB from 10 up, one decimal below (7.8). */
export function memoryGiB(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  return gib >= 10 ? String(Math.round(gib)) : String(Math.round(gib * 10) / 10);
}

/**
 * The host's facts: os (node's platform: linux), distro, arch (node's: x64, arm64), cpus, memory
 * (GiB) and, when `docker` is given and answers within 3 s, the engine's version. Never throws: a
 * fact it cannot learn is left out.
 */
export async function hostFacts(docker?: Dockerode): Promise<Record<string, string>> {
  const facts: Record<string, string> = {
    os: os.platform(),
    arch: process.arch,
    cpus: String(os.availableParallelism()),
    memory: memoryGiB(os.totalmem()),
  };
  try {
    const distro = distroOf(readFileSync("/etc/os-release", "utf8"));
    if (distro) facts.distro = distro;
  } catch {
    // not every system has /etc/os-release; the label is left out
  }
  if (docker) {
    const version = await Promise.race([
      docker.version().then(
        (v) => v.Version,
        () => null,
      ),
      new Promise<null>((r) => setTimeout(() => r(null), 3000).unref()),
    ]);
    if (version && /^[A-Za-z0-9._+-]{1,64}$/.test(version)) facts.docker = version;
  }
  return facts;
}

/** The facts with the operator's labels over them. */
export function withHostFacts(facts: Record<string, string>, given: Record<string, string>): Record<string, string> {
  return { ...facts, ...given };
}
