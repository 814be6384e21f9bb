#!/usr/bin/env bash
# Starts a private dockerd for Dockyard tests and the dev agent (ENVIRONMENT.md §5), idempotently.
# Everything lives under /tmp/dockyard-docker so it never collides with a system daemon.
# Fast path (already installed and answering): prints one line. Stop: kill "$(cat /tmp/dockyard-docker/dockerd.pid)".
#
#   start-dockerd.sh        the main engine: /tmp/dockyard-docker/docker.sock
#   start-dockerd.sh b      a second engine (push on one, pull on the other): /tmp/dockyard-docker-b/docker.sock
# Each instance has its own data root, exec root (its own containerd) and pidfile, so they never share state.
set -euo pipefail

INSTANCE=${1:-}
if [ -n "$INSTANCE" ] && ! [[ "$INSTANCE" =~ ^[a-z0-9]+$ ]]; then
  echo "usage: $0 [instance]   (instance: lowercase letters/digits, e.g. b)" >&2
  exit 2
fi
ROOT=/tmp/dockyard-docker${INSTANCE:+-$INSTANCE}
SOCK="$ROOT/docker.sock"
LOG="$ROOT/dockerd.log"
PIDFILE="$ROOT/dockerd.pid"

ping() { curl -fs --max-time 2 --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1; }

# apt_get_install, note_started (DOCKYARD_STARTED_DIR: who started which daemon).
source "$(dirname "$0")/../lib.sh"

if ! dpkg -s docker.io busybox-static >/dev/null 2>&1; then
  echo "installing docker.io and busybox-static (apt output: $DOCKYARD_APT_LOG)" >&2
  apt_get_install docker.io busybox-static
fi

if ping; then
  echo "dockerd ready: unix://$SOCK"
  exit 0
fi

mkdir -p "$ROOT/data" "$ROOT/exec"
# One starter at a time per instance (setup runs in parallel); the lock ends with this script.
exec 9>"$ROOT/start.lock"
flock -w 60 9 || { echo "another start-dockerd.sh holds $ROOT/start.lock" >&2; exit 1; }
# A daemon that is still starting (a concurrent setup run) or still stopping: wait for either.
for _ in $(seq 100); do
  daemon_pid "$PIDFILE" dockerd >/dev/null || break
  if ping; then echo "dockerd ready: unix://$SOCK"; exit 0; fi
  sleep 0.1
done
# A stale pidfile or socket from a killed daemon makes dockerd refuse to start.
if daemon_pid "$PIDFILE" dockerd >/dev/null; then
  echo "dockerd (pid $(cat "$PIDFILE")) is running but $SOCK does not answer; see $LOG" >&2
  tail -n 30 "$LOG" >&2 || true
  exit 1
fi
rm -f "$PIDFILE" "$SOCK"
# dockerd reuses the containerd its pid file names while that pid lives: after a reboot or a
# restored /tmp it may be an unrelated process, and dockerd would wait on it forever.
CONTAINERD_PIDFILE="$ROOT/exec/containerd/containerd.pid"
daemon_pid "$CONTAINERD_PIDFILE" containerd >/dev/null || rm -f "$CONTAINERD_PIDFILE"

# setsid: the daemon outlives the caller's process group (test runners kill theirs).
# 9>&-: the daemon must not inherit (and so hold) the start lock.
setsid nohup dockerd --data-root "$ROOT/data" --exec-root "$ROOT/exec" --host "unix://$SOCK" --pidfile "$PIDFILE" \
  --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs >"$LOG" 2>&1 9>&- &
DPID=$!

for _ in $(seq 100); do
  if ping; then
    echo "dockerd started (pid $DPID): unix://$SOCK"
    # dockerd runs its own containerd (a child that it stops on its way out); both are noted.
    note_started "dockerd${INSTANCE:+-$INSTANCE}" "$DPID"
    CPID=$(cat "$ROOT/exec/containerd/containerd.pid" 2>/dev/null || true)
    if [ -n "$CPID" ]; then note_started "containerd${INSTANCE:+-$INSTANCE}" "$CPID"; fi
    exit 0
  fi
  if ! kill -0 "$DPID" 2>/dev/null; then break; fi
  sleep 0.1
done

echo "dockerd did not answer _ping on $SOCK within 10 s; last lines of $LOG:" >&2
tail -n 30 "$LOG" >&2 || true
exit 1
