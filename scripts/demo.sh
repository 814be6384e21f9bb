#!/usr/bin/env bash
# `npm run demo`: install what is missing, start a small farm (a server on
# embedded PGlite and two Docker agents), run examples/hello/dockyard.yml and
# leave the farm running to look around. `npm run demo -- stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
DEMO=.dockyard/demo
mkdir -p "$DEMO"

stop_demo() {
  for f in "$DEMO"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$f"
  done
  # Agents drain on SIGTERM; give them a moment before the next start.
  for _ in $(seq 50); do pgrep -f "dockyard/(server|agent)-demo" >/dev/null || break; sleep 0.1; done
}

if [ "${1:-}" = "stop" ]; then stop_demo; log "demo farm stopped"; exit 0; fi

ensure_deps
ensure_nats
ensure_docker
ensure_registry
ensure_images
export DOCKER_HOST=unix:///tmp/dockyard-docker/docker.sock
stop_demo

[ -f "$DEMO/join-token" ] || echo "dyj_demo_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$DEMO/join-token"
[ -f "$DEMO/api-token" ] || echo "dya_demo_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$DEMO/api-token"
chmod 600 "$DEMO/join-token" "$DEMO/api-token"
export DOCKYARD_SERVER=127.0.0.1:7400
# The server makes its CA at first start; the CLI and the agents verify the server with it.
export DOCKYARD_CA_FILE="$DEMO/server/pki/ca.crt"
export DOCKYARD_TOKEN
DOCKYARD_TOKEN=$(cat "$DEMO/api-token")
dockyard=cli/bin/dockyard

for port in 7400 7401; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then die "port $port is in use; stop what listens there (or 'npm run demo -- stop')"; fi
done

log "starting the server (embedded PGlite in $DEMO/server)"
# Build stages push to the local registry; its password is the secret registry-password.
DOCKYARD_REGISTRY=127.0.0.1:5000 DOCKYARD_REGISTRY_USERNAME=dockyard DOCKYARD_REGISTRY_PASSWORD_SECRET=registry-password \
DOCKYARD_DATA_DIR="$DEMO/server" DOCKYARD_JOIN_TOKEN_FILE="$DEMO/join-token" DOCKYARD_API_TOKEN_FILE="$DEMO/api-token" \
  setsid nohup "$dockyard" server --grpc-listen 127.0.0.1:7400 --http-listen 127.0.0.1:7401 \
  >"$DEMO/server.log" 2>&1 &
echo $! > "$DEMO/server.pid"
for _ in $(seq 300); do curl -fs http://127.0.0.1:7401/readyz >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs http://127.0.0.1:7401/readyz >/dev/null || { tail -n 20 "$DEMO/server.log" >&2; die "server did not start"; }

for a in a b; do
  log "starting agent demo-$a"
  # Both agents share one engine: the hello example's stages pass files through the run's
  # /workspace volume, which lives on one engine (the tests run agents on two engines).
  engine=$DOCKER_HOST
  # The join token comes from a file (never an argument: it would show in ps).
  DOCKER_HOST=$engine setsid nohup "$dockyard" agent --server 127.0.0.1:7400 --nats nats://127.0.0.1:4222 --token-file "$DEMO/join-token" \
    --name "demo-$a" --labels "zone=$a" --capacity 2 --executor docker --state-dir "$DEMO/agent-$a" \
    >"$DEMO/agent-$a.log" 2>&1 &
  echo $! > "$DEMO/agent-$a.pid"
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

"$dockyard" secret set registry-password < /tmp/dockyard-registry/password >/dev/null

log "running examples/hello/dockyard.yml"
set +e
"$dockyard" run examples/hello/dockyard.yml --watch
code=$?
if [ $code -eq 0 ]; then
  log "running examples/webapp/dockyard.yml (build, push, temporary environment, tests, image sizes)"
  "$dockyard" run examples/webapp/dockyard.yml --watch
  code=$?
fi
set -e
cat <<MSG

$( [ $code -eq 0 ] && echo "The example pipeline succeeded." || echo "The example pipeline did not succeed (exit $code)." )
The farm keeps running. Where to look:
  export DOCKYARD_SERVER=127.0.0.1:7400 DOCKYARD_CA_FILE=$DEMO/server/pki/ca.crt DOCKYARD_TOKEN=\$(cat $DEMO/api-token)
  cli/bin/dockyard runs                      # recent runs
  cli/bin/dockyard logs <run-id> report      # one stage's output
  cli/bin/dockyard agents                    # the two agents
  cli/bin/dockyard envs                      # live temporary environments
  curl -s http://127.0.0.1:7401/metrics | grep ^dockyard_     # Prometheus metrics
  curl -s -H "Authorization: Bearer \$DOCKYARD_TOKEN" http://127.0.0.1:7401/api/v1/runs
  logs: $DEMO/server.log, $DEMO/agent-a.log, $DEMO/agent-b.log
  stop: npm run demo -- stop
MSG
exit $code
