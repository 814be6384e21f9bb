#!/usr/bin/env bash
# `npm run demo`: install what is missing, start a small farm (a server on embedded PGlite, two
# Docker agents, a local webhook receiver, and a Pushgateway, Alertmanager and Prometheus), run
# examples/hello, examples/webapp (whose release the demo approves itself: it rolls the `staging`
# service out) and examples/continuous (a browser journey against staging, then a release that
# breaks one page: the journey fails, the alert fires and staging rolls back), and leave the farm
# and that service running to look around. Run again, it restarts the farm; the service keeps
# running and the new release updates it. `npm run demo -- stop` stops the farm, removes the
# service (its replicas, network and the agents' detached HAProxy proxies) and stops every
# daemon the demo started itself (NATS, dockerd, the registry, the monitoring); what was already
# running stays.
#
# What it started is recorded under the demo directory: server.pid, agent-*.pid, receiver.pid
# {pushgateway,alertmanager,prometheus}.pid and services/NAME.pid ("PID STARTTIME", so a reused pid is never mistaken for ours); the
# services' proxies under agent-*/services/NAME/ (the agents' state directories).
# Knobs (the demo's test runs a second demo beside the first with them):
#   DOCKYARD_DEMO_DIR        state directory (default .dockyard/demo)
#   DOCKYARD_DEMO_PORT       the server's gRPC port (default 7400); HTTP listens on the next one,
#                            the Pushgateway, Alertmanager and Prometheus on the three after it
#   DOCKYARD_DEMO_EXAMPLES   which examples to run, in order (default "hello webapp continuous";
#                            continuous breaks the service webapp releases, so it comes after webapp)
#   DOCKYARD_DEMO_DOCKER     a dockerd instance of its own (/tmp/dockyard-docker-NAME; default: the dev engine)
#   DOCKYARD_DEMO_NATS_PORT  NATS port (default 4222); DOCKYARD_DEMO_REGISTRY (default 127.0.0.1:5000)
#   DOCKYARD_DEMO_SERVICE_ADDRESSES  the two agents' DOCKYARD_SERVICE_ADDRESS, where their service
#                            proxies bind (default "127.0.0.1 127.0.0.2": one port, two addresses)
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
source scripts/lib.sh

[ $# -le 1 ] && { [ -z "${1:-}" ] || [ "$1" = stop ]; } || die "unknown arguments '$*'; usage: npm run demo [-- stop]"

port_ok() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1024 ] && [ "$1" -le 65534 ]; }
GRPC_PORT=${DOCKYARD_DEMO_PORT:-7400}
port_ok "$GRPC_PORT" || die "DOCKYARD_DEMO_PORT must be a port from 1024 to 65534, not '$GRPC_PORT'"
HTTP_PORT=$((GRPC_PORT + 1))
NATS_PORT=${DOCKYARD_DEMO_NATS_PORT:-4222}
port_ok "$NATS_PORT" || die "DOCKYARD_DEMO_NATS_PORT must be a port from 1024 to 65534, not '$NATS_PORT'"
ENGINE=${DOCKYARD_DEMO_DOCKER:-}
[[ "$ENGINE" =~ ^[a-z0-9]*$ ]] || die "DOCKYARD_DEMO_DOCKER must be lowercase letters and digits (a dockerd instance name), not '$ENGINE'"
REGISTRY=${DOCKYARD_DEMO_REGISTRY:-127.0.0.1:5000}
[[ "$REGISTRY" =~ ^127\.0\.0\.1:([0-9]{1,5})$ ]] && port_ok "${BASH_REMATCH[1]}" \
  || die "DOCKYARD_DEMO_REGISTRY must be 127.0.0.1:PORT, not '$REGISTRY'"
EXAMPLES=${DOCKYARD_DEMO_EXAMPLES-hello webapp continuous}
for ex in $EXAMPLES; do
  case $ex in hello | webapp | continuous) ;; *) die "DOCKYARD_DEMO_EXAMPLES lists '$ex'; the examples are: hello webapp continuous" ;; esac
done
[ -n "${EXAMPLES// /}" ] || die "DOCKYARD_DEMO_EXAMPLES is empty; the examples are: hello webapp continuous"
has_example() { [[ " $EXAMPLES " == *" $1 "* ]]; }
if has_example continuous && ! [[ " $EXAMPLES " == *" webapp "*"continuous "* ]]; then
  die "DOCKYARD_DEMO_EXAMPLES lists continuous without webapp before it: continuous breaks the staging service that webapp releases"
fi
read -r -a SERVICE_ADDRESSES <<<"${DOCKYARD_DEMO_SERVICE_ADDRESSES:-127.0.0.1 127.0.0.2}"
[ ${#SERVICE_ADDRESSES[@]} -eq 2 ] && [[ "${SERVICE_ADDRESSES[0]}" =~ ^127\.[0-9.]+$ ]] && [[ "${SERVICE_ADDRESSES[1]}" =~ ^127\.[0-9.]+$ ]] \
  || die "DOCKYARD_DEMO_SERVICE_ADDRESSES must be two loopback addresses (127.x.y.z), not '${DOCKYARD_DEMO_SERVICE_ADDRESSES:-}'"
# Absolute, so that the paths printed at the end work from any directory.
DEMO=$(cd "$here" && realpath -m -- "${DOCKYARD_DEMO_DIR:-$ROOT/.dockyard/demo}")
export DOCKYARD_STARTED_DIR="$DEMO/services"
source scripts/demo-monitoring.sh

stop_farm() {
  local f jobs=()
  # Agents first (they tell the server they leave), together: each drains on the first SIGTERM
  # and stops its running stages on the second. (Waits for these jobs only: a bare `wait` would
  # wait for a daemon this shell started, too.)
  for f in "$DEMO"/agent-*.pid; do
    [ -e "$f" ] || continue
    stop_recorded "$f" 20 8 &
    jobs+=($!)
  done
  if [ ${#jobs[@]} -gt 0 ]; then wait "${jobs[@]}"; fi
  stop_recorded "$DEMO/server.pid" 15
  stop_recorded "$DEMO/receiver.pid" 5
  stop_monitoring
}

# The services the demo's agents ran (one proxy directory each under their state directories):
# their detached HAProxy proxies, then their replicas and network on the demo's engine. Prints
# the services' names. Only `stop` does this: a rerun keeps the service, and its release updates it.
remove_services() {
  local d name pid names=() ids
  for d in "$DEMO"/agent-*/services/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d")
    [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || continue
    # haproxy -D wrote its pid; signalled only while that pid is an haproxy (never a reused pid).
    pid=$(cat "$d/haproxy.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ] || break; sleep 0.1; done
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -rf "$d"
    [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
  done
  [ ${#names[@]} -gt 0 ] || return 0
  export DOCKER_HOST=unix:///tmp/dockyard-docker${ENGINE:+-$ENGINE}/docker.sock
  if ! docker info >/dev/null 2>&1; then
    log "the demo's engine does not answer: replicas of ${names[*]} (if any) were not removed"
  else
    for name in "${names[@]}"; do
      ids=$(docker ps -aq --filter "label=dockyard.service=$name")
      if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
      docker network rm "dy-svc-$name" >/dev/null 2>&1 || true
    done
  fi
  echo "${names[*]}"
}

if [ "${1:-}" = stop ]; then
  stop_farm
  removed=$(remove_services)
  if [ -n "$removed" ]; then log "removed the demo's services (replicas, network, proxies): $removed"; fi
  stopped=$(stop_started "$DEMO/services")
  if [ -n "$stopped" ]; then log "stopped what the demo had started: $stopped"; fi
  log "demo farm stopped (services the demo did not start are left running)"
  exit 0
fi

mkdir -p "$DEMO"
log "setting up (apt output, if anything is installed: $DOCKYARD_APT_LOG)"
ensure_deps
ensure_build # the CLI, server and agent run from dist/
ensure_nats "$NATS_PORT"
ensure_docker "$ENGINE" # exports DOCKER_HOST
DOCKYARD_REGISTRY_LISTEN=$REGISTRY ensure_registry
# The webapp builds FROM the examples' base images; its release runs HAProxy on an agent.
if has_example webapp; then
  ensure_images
  ensure_haproxy
fi
# The continuous example's journey runs in Chromium on an agent; its alert comes through Prometheus.
if has_example continuous; then ensure_monitoring; fi
# A farm from an earlier run: stop it, waiting for the processes it recorded.
stop_farm

[ -f "$DEMO/join-token" ] || echo "dyj_demo_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DEMO/join-token"
[ -f "$DEMO/api-token" ] || echo "dya_demo_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DEMO/api-token"
# What Alertmanager sends to the server's alert receiver (it cannot sign).
[ -f "$DEMO/alert-token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DEMO/alert-token"
chmod 600 "$DEMO/join-token" "$DEMO/api-token" "$DEMO/alert-token"
export DOCKYARD_SERVER=127.0.0.1:$GRPC_PORT
# The server makes its CA at first start; the CLI and the agents verify the server with it.
export DOCKYARD_CA_FILE="$DEMO/server/pki/ca.crt"
export DOCKYARD_TOKEN
DOCKYARD_TOKEN=$(cat "$DEMO/api-token")
NATS_URL=nats://127.0.0.1:$NATS_PORT
dockyard=$ROOT/cli/bin/dockyard

ports=("$GRPC_PORT" "$HTTP_PORT")
if has_example continuous; then ports+=("$PUSHGATEWAY_PORT" "$ALERTMANAGER_PORT" "$PROMETHEUS_PORT"); fi
for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use by something the demo did not start; stop it, or choose other ports with DOCKYARD_DEMO_PORT"
  fi
done

log "starting the server (embedded PGlite in $DEMO/server)"
# Build stages push to the local registry; its password is the secret registry-password.
# Notifications may go to loopback: the webhook receiver below.
DOCKYARD_NOTIFY_ALLOW_PRIVATE=loopback DOCKYARD_REGISTRY=$REGISTRY DOCKYARD_REGISTRY_USERNAME=dockyard DOCKYARD_REGISTRY_PASSWORD_SECRET=registry-password \
DOCKYARD_DATA_DIR="$DEMO/server" DOCKYARD_JOIN_TOKEN_FILE="$DEMO/join-token" DOCKYARD_API_TOKEN_FILE="$DEMO/api-token" \
DOCKYARD_ALERT_TOKEN_FILE="$DEMO/alert-token" \
  setsid nohup "$dockyard" server --grpc-listen "$DOCKYARD_SERVER" --http-listen "127.0.0.1:$HTTP_PORT" --nats "$NATS_URL" \
  >"$DEMO/server.log" 2>&1 </dev/null &
record_pid "$DEMO/server.pid" $!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { tail -n 20 "$DEMO/server.log" >&2; die "server did not start"; }

# The agents push the continuous example's journey results to the Pushgateway.
pushgateway=
if has_example continuous; then
  start_monitoring
  pushgateway=http://127.0.0.1:$PUSHGATEWAY_PORT
fi
i=0
for a in a b; do
  log "starting agent demo-$a (its service proxies bind ${SERVICE_ADDRESSES[$i]})"
  # Both agents share one engine: the hello example's stages pass files through the run's
  # /workspace volume, which lives on one engine (the tests run agents on two engines).
  # The join token comes from a file (never an argument: it would show in ps). Each binds its
  # services' proxies on an address of its own (one machine, two "hosts": the same port on each);
  # demo=true is the label the staging service selects.
  DOCKYARD_PUSHGATEWAY_URL=$pushgateway DOCKYARD_SERVICE_ADDRESS=${SERVICE_ADDRESSES[$i]} setsid nohup "$dockyard" agent --server "$DOCKYARD_SERVER" --nats "$NATS_URL" --token-file "$DEMO/join-token" \
    --name "demo-$a" --labels "zone=$a,demo=true" --capacity 2 --executor docker --state-dir "$DEMO/agent-$a" \
    >"$DEMO/agent-$a.log" 2>&1 </dev/null &
  record_pid "$DEMO/agent-$a.pid" $!
  i=$((i + 1))
done
for _ in $(seq 200); do
  n=$("$dockyard" agents --json 2>/dev/null | grep -o '"state": *"online"' | wc -l || true)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.1
done
"$dockyard" agents

if ! "$dockyard" secret list 2>/dev/null | grep -q '^hello-publish-token '; then
  log "storing the example's secret (hello-publish-token) in the secret store"
  printf 'dyk_demo_%s' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" | "$dockyard" secret set hello-publish-token >/dev/null
fi
"$dockyard" secret set registry-password <"$(registry_dir "$REGISTRY")/password" >/dev/null

if has_example webapp; then
  # The webapp's release notifies the `releases` channel: a webhook to a receiver on this machine
  # that appends what arrives to notifications.log (nothing leaves the machine). Added again each
  # time: the receiver's port is new.
  rm -f "$DEMO/receiver.port"
  setsid nohup node scripts/demo-receiver.mjs "$DEMO/receiver.port" "$DEMO/notifications.log" \
    >"$DEMO/receiver.log" 2>&1 </dev/null &
  record_pid "$DEMO/receiver.pid" $!
  for _ in $(seq 100); do [ -s "$DEMO/receiver.port" ] && break; sleep 0.1; done
  [ -s "$DEMO/receiver.port" ] || { cat "$DEMO/receiver.log" >&2; die "the webhook receiver did not start"; }
  "$dockyard" channels rm releases >/dev/null 2>&1 || true
  "$dockyard" channels add releases --type webhook --url "http://127.0.0.1:$(cat "$DEMO/receiver.port")/dockyard" >/dev/null
fi

source scripts/demo-report.sh
run_examples
print_where_to_look
exit "$code"
