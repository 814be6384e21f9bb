// Loaded with --import (NODE_OPTIONS refuses --cpu-prof): profiles this process's main thread from
// start to exit and writes a .cpuprofile into BENCH_CPU_PROFILE_DIR. The in-thread inspector
// session answers synchronously, so the profile is written inside the exit handler.
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (err, res) => {
      if (!err) writeFileSync(path.join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
