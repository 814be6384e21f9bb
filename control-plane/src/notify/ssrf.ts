// The guard against notifications aimed inside the network (SSRF): a target host is resolved
// once, the address is checked, and the connection goes to that very address (pinned), so a
// name that resolves to a public address for the check and a private one for the connect
// (DNS rebinding) cannot slip through.
import { BlockList, isIP } from "node:net";
import { lookup } from "node:dns/promises";

/** Address classes a server setting may allow (DOCKYARD_NOTIFY_ALLOW_PRIVATE), beside CIDRs. */
const CLASSES: Record<string, [string, number, "ipv4" | "ipv6"][]> = {
  loopback: [
    ["127.0.0.0", 8, "ipv4"],
    ["::1", 128, "ipv6"],
  ],
  "link-local": [
    ["169.254.0.0", 16, "ipv4"],
    ["fe80::", 10, "ipv6"],
  ],
  private: [
    ["10.0.0.0", 8, "ipv4"],
    ["172.16.0.0", 12, "ipv4"],
    ["192.168.0.0", 16, "ipv4"],
    ["100.64.0.0", 10, "ipv4"],
    ["fc00::", 7, "ipv6"],
  ],
  // Never a notification target unless a CIDR names it: "this network", multicast, reserved, benchmarking.
  reserved: [
    ["0.0.0.0", 8, "ipv4"],
    ["192.0.0.0", 24, "ipv4"],
    ["198.18.0.0", 15, "ipv4"],
    ["224.0.0.0", 4, "ipv4"],
    ["240.0.0.0", 4, "ipv4"],
    ["::", 128, "ipv6"],
    ["ff00::", 8, "ipv6"],
  ],
};

export class RefusedTargetError extends Error {}

export interface TargetPolicy {
  /** Whether `address` may be connected to; else why not. */
  check(address: string): string | null;
}

/** A policy from the server setting: `loopback`, `link-local`, `private` or CIDRs (`10.1.0.0/16`), any mix. */
export function targetPolicy(allow: string[]): TargetPolicy {
  const allowed = new BlockList();
  for (const entry of allow) {
    const rules = CLASSES[entry];
    if (rules && entry !== "reserved") {
      for (const [net, prefix, family] of rules) allowed.addSubnet(net, prefix, family);
      continue;
    }
    const [net, prefix] = entry.split("/");
    const family = isIP(net ?? "");
    if (!net || family === 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) {
      throw new Error(
        `DOCKYARD_NOTIFY_ALLOW_PRIVATE: '${entry}' is neither loopback, link-local, private nor a CIDR (10.1.0.0/16)`,
      );
    }
    allowed.addSubnet(net, Number(prefix), family === 4 ? "ipv4" : "ipv6");
  }
  return {
    check(raw: string) {
      const address = unmapped(raw);
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (allowed.check(address, family)) return null;
      for (const [name, rules] of Object.entries(CLASSES)) {
        for (const [net, prefix, fam] of rules) {
          if (fam !== family) continue;
          const one = new BlockList();
          one.addSubnet(net, prefix, fam);
          if (one.check(address, family)) {
            return `${raw} is a ${name} address; notifications to ${name} addresses are refused unless the server allows them (DOCKYARD_NOTIFY_ALLOW_PRIVATE)`;
          }
        }
      }
      return null;
    },
  };
}

/** `::ffff:10.0.0.1` is 10.0.0.1 to the network: check the IPv4 address inside. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** The address to connect to for `host` (resolved once); throws RefusedTargetError when the policy refuses it. */
export async function resolveTarget(host: string, policy: TargetPolicy): Promise<{ address: string; family: 4 | 6 }> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  let address: string;
  let family: number;
  if (isIP(bare) !== 0) {
    address = bare;
    family = isIP(bare);
  } else {
    try {
      ({ address, family } = await lookup(bare));
    } catch (err) {
      throw new Error(`cannot resolve ${bare}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const problem = policy.check(address);
  if (problem) throw new RefusedTargetError(bare === address ? problem : `${bare} resolves to ${problem}`);
  return { address, family: family === 6 ? 6 : 4 };
}
