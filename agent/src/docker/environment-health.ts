import { setTimeout as delay } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { EnvironmentError } from './environment-error.js';
import { engineMessage, logTail, withTail } from './environment-docker.js';

// How often startup polls `inspect`; health checks themselves run on Docker's interval.
const POLL_MS = 150;

/** Fails with `exited` (and the log tail) when the container is no longer running. */
export async function assertRunning(
  container: Dockerode.Container,
  service: string,
): Promise<Dockerode.ContainerInspectInfo> {
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await container.inspect();
  } catch (err) {
    throw new EnvironmentError('exited', `service '${service}': container is gone (${engineMessage(err)})`, {
      service,
      cause: err,
    });
  }
  if (info.State.Running) return info;
  const tail = await logTail(container);
  const how = info.State.OOMKilled ? 'was killed for using too much memory' : `exited with code ${info.State.ExitCode}`;
  throw new EnvironmentError('exited', withTail(`service '${service}' ${how} during startup`, tail), {
    service,
    logTail: tail,
  });
}

/**
 * Polls until Docker reports the container healthy. Fails with `exited` if it stops, with
 * `start_failed` if it has no health check at all (`why` says who needed one), and with
 * `unhealthy` at `deadline` (epoch ms), quoting the last health probe output and the log.
 * An `unhealthy` status before the deadline is not final: Docker keeps probing, so neither do we give up.
 * @throws the signal's reason when aborted.
 */
export async function waitHealthy(
  container: Dockerode.Container,
  service: string,
  opts: { deadline: number; timeoutMs: number; why: string; signal?: AbortSignal },
): Promise<void> {
  for (;;) {
    opts.signal?.throwIfAborted();
    const info = await assertRunning(container, service);
    const health = info.State.Health;
    if (!health || health.Status === 'none') {
      throw new EnvironmentError('start_failed', `service '${service}' has no healthcheck, but ${opts.why}`, {
        service,
      });
    }
    if (health.Status === 'healthy') return;
    if (Date.now() >= opts.deadline) {
      const probe = health.Log?.at(-1);
      const probeText = probe
        ? `; last check exited ${probe.ExitCode}${probe.Output.trim() ? `: ${probe.Output.trim().slice(-500)}` : ''}`
        : '';
      const tail = await logTail(container);
      const message = `service '${service}' did not become healthy within ${opts.timeoutMs} ms (status ${health.Status}, ${health.FailingStreak} failing checks${probeText})`;
      throw new EnvironmentError('unhealthy', withTail(message, tail), { service, logTail: tail });
    }
    await delay(Math.min(POLL_MS, Math.max(1, opts.deadline - Date.now())), undefined, { signal: opts.signal });
  }
}
