import { ShellExecutor } from "./src/executor/shell.ts";
import { collect } from "./src/executor/contract.ts";
const ex = new ShellExecutor({ workDir: "/tmp/t1work" });
ex.warmUp();
await new Promise((r) => setTimeout(r, 500));
const lat: number[] = []; const c0 = process.cpuUsage();
for (let i = 0; i < 50; i++) {
  const t0 = performance.now();
  const h = await ex.start({ attemptId: `a${i}`, runId: "r", stageName: "s", attemptNumber: 1, image: null, commands: ['echo ok'], env: {A: "b"}, resources: {} } as any, new AbortController().signal);
  const t1 = performance.now();
  const it = h.output[Symbol.asyncIterator]();
  await it.next();
  lat.push(performance.now() - t0);
  if (i < 3) console.log("start", (t1 - t0).toFixed(2), "first", (performance.now() - t0).toFixed(2));
  for (;;) { const r = await it.next(); if (r.done) break; }
  await h.wait();
  await new Promise((r) => setTimeout(r, 30));
}
lat.sort((a, b) => a - b);
const cu = process.cpuUsage(c0);
console.log("p50 first byte", lat[25].toFixed(2), "agent cpu/stage", ((cu.user + cu.system) / 1000 / 50).toFixed(2));
await ex.close();
