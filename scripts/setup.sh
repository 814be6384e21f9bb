#!/usr/bin/env bash
# Installs and starts everything the tests need: pnpm + dependencies, the JavaScript build (dist/),
# Postgres, NATS (JetStream), two private dockerds with the local base image, the registry, and the
# binaries of Prometheus, Alertmanager, the Pushgateway and Chromium (not started: tests start their own).
# Each service it starts is noted in $DOCKYARD_RUN/started (default /tmp/dockyard-services);
# `npm run setup -- stop` stops those, and never one that was running before.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export DOCKYARD_STARTED_DIR="$DOCKYARD_RUN/started"
case "${1:-}" in
  "") ;;
  stop)
    stopped=$(stop_started "$DOCKYARD_STARTED_DIR")
    log "stopped: ${stopped:-nothing (no service that setup started is running)}"
    exit 0
    ;;
  *) die "unknown argument '$1'; usage: npm run setup [-- stop]" ;;
esac
ensure_deps
ensure_build
ensure_postgres
ensure_nats
ensure_docker
ensure_images
ensure_docker_compose
ensure_docker_b
ensure_registry
ensure_haproxy
ensure_monitoring
log "services ready"
