// A "host" of its own for one agent: a network namespace joined to the root namespace by
// a veth pair with a private /30 of 10.231.0.0/16 (root side .1, namespace side .2), so
// the link between them can be cut the two ways an operator sees: the interface going
// down, and packets silently lost (iptables DROP in the namespace, link still up).
// Servers and NATS stay in the root namespace and listen where the namespace reaches
// them; nothing here sends traffic to any other non-loopback address. Names are unique
// per test run (`dy` + random hex) and `remove()` takes the namespace, both veth ends
// and its rules away (deleting a namespace destroys its veth end, and the peer with it).
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";

const RULE_COMMENT = "dockyard-test-partition";

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A free 10.231.x.y/30 (y a multiple of 4): the root side gets .y+1, the namespace side .y+2. */
function freeSubnet(): { root: string; inside: string } {
  const used = ip("-4", "-o", "addr", "show");
  for (let i = 0; i < 50; i++) {
    const x = randomInt(0, 256);
    const y = randomInt(0, 64) * 4;
    const root = `10.231.${x}.${y + 1}`;
    const inside = `10.231.${x}.${y + 2}`;
    if (!used.includes(`10.231.${x}.${y + 1}/`) && !used.includes(`10.231.${x}.${y + 2}/`)) return { root, inside };
  }
  throw new Error("no free /30 in 10.231.0.0/16 after 50 tries");
}

/** One network namespace behind a veth pair; see the file comment. */
export class NetnsHost {
  /** The namespace's name (also the prefix of both veth ends; interface names fit in 15 characters). */
  readonly name = `dy${randomBytes(4).toString("hex")}`;
  /** The veth end in the root namespace. */
  readonly rootVeth = `${this.name}r`;
  /** The veth end inside the namespace. */
  readonly innerVeth = `${this.name}n`;
  /** The root side's address: what a process in the namespace connects to. */
  readonly rootAddress: string;
  /** The namespace side's address. */
  readonly innerAddress: string;
  private created = false;
  private dropping = false;

  private constructor() {
    const { root, inside } = freeSubnet();
    this.rootAddress = root;
    this.innerAddress = inside;
  }

  /** Create the namespace, the veth pair and both addresses, and bring every link (and lo) up. */
  static create(): NetnsHost {
    const h = new NetnsHost();
    try {
      ip("netns", "add", h.name);
      h.created = true;
      ip("link", "add", h.rootVeth, "type", "veth", "peer", "name", h.innerVeth);
      ip("link", "set", h.innerVeth, "netns", h.name);
      ip("addr", "add", `${h.rootAddress}/30`, "dev", h.rootVeth);
      ip("link", "set", h.rootVeth, "up");
      ip("-n", h.name, "addr", "add", `${h.innerAddress}/30`, "dev", h.innerVeth);
      ip("-n", h.name, "link", "set", h.innerVeth, "up");
      ip("-n", h.name, "link", "set", "lo", "up");
    } catch (err) {
      h.remove();
      throw new Error(`creating network namespace ${h.name}: ${(err as Error).message}`);
    }
    return h;
  }

  /** Start `command` inside the namespace (`ip netns exec` execs it: the child's pid is the command's own). */
  spawn(command: string, args: string[], opts: SpawnOptions): ChildProcess {
    return spawn("ip", ["netns", "exec", this.name, command, ...args], opts);
  }

  /** Cut the link: the namespace's veth end goes down (its routes go with it; the root end loses carrier). */
  linkDown(): void {
    ip("-n", this.name, "link", "set", this.innerVeth, "down");
  }

  /** Cut the link the quiet way: the link stays up, every packet in or out of the veth is dropped. */
  dropPackets(): void {
    if (this.dropping) return;
    for (const [chain, dir] of [
      ["INPUT", "-i"],
      ["OUTPUT", "-o"],
    ] as const) {
      this.iptables("-I", chain, dir, this.innerVeth, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP");
    }
    this.dropping = true;
  }

  /** Undo either cut: the veth up again (its address and route come back with it), our DROP rules gone. */
  restore(): void {
    if (!this.created) return;
    ip("-n", this.name, "link", "set", this.innerVeth, "up");
    if (this.dropping) {
      for (const [chain, dir] of [
        ["INPUT", "-i"],
        ["OUTPUT", "-o"],
      ] as const) {
        this.iptables("-D", chain, dir, this.innerVeth, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP");
      }
      this.dropping = false;
    }
  }

  /** The namespace's state as `ip` shows it (for failure messages). */
  describe(): string {
    return `${ip("-n", this.name, "-br", "addr")}${this.iptables("-S")}`;
  }

  /**
   * Remove the namespace: its veth end, the root-side peer and its rules go with it (idempotent,
   * safe after a failed create). Processes still inside keep it alive, so stop them first.
   */
  remove(): void {
    try {
      ip("netns", "del", this.name);
    } catch {
      // never created, or already gone
    }
    try {
      ip("link", "del", this.rootVeth); // only left when the pair was made but never moved
    } catch {
      // gone with the namespace
    }
    this.created = false;
  }

  private iptables(...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", this.name, "iptables", "-w", ...args], { encoding: "utf8" });
  }
}

/** Our namespaces and veth ends still present (leftovers; a test asserts this is empty after cleanup). */
export function leftovers(hosts: readonly NetnsHost[]): string[] {
  const names = new Set(hosts.map((h) => h.name));
  const ns = ip("netns", "list")
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => names.has(n));
  const links = ip("-o", "link")
    .split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0] ?? "")
    .filter((l) => [...names].some((n) => l.startsWith(n)));
  return [...ns, ...links];
}
