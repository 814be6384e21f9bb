// The end of `run --watch`: what the stages produced (images with size, layers and
// digest; test counts; environments and their addresses), one line each.
import type { Stage } from "@dockyard/proto";
import type { Colors } from "./status-format";

export function formatOutputs(stages: Stage[], c: Colors): string[] {
  const width = Math.max(0, ...stages.map((s) => s.name.length));
  const lines: string[] = [];
  for (const s of stages) {
    const o = s.outputs;
    if (!o) continue;
    const name = c.bold(s.name.padEnd(width));
    if (o.image) {
      const mb = (Number(o.image.sizeBytes) / 1e6).toFixed(1);
      lines.push(`  ${name}  image ${o.image.ref}  ${mb} MB, ${o.image.layers} layers${o.image.digest ? `  ${o.image.digest.slice(0, 19)}…` : ""}`);
    }
    if (o.tests) {
      const t = o.tests;
      lines.push(`  ${name}  tests ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.errors} errors (${t.total})`);
    }
    if (o.values.env_id) {
      const services = Object.entries(o.values)
        .filter(([k]) => k.endsWith(".address"))
        .map(([k, v]) => `${k.slice(0, -".address".length)}=${v}`);
      lines.push(`  ${name}  environment ${o.values.env_id}  ${services.join(" ")}`);
    }
  }
  return lines.length ? ["outputs:", ...lines] : [];
}
