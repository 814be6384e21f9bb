#!/usr/bin/env bash
# Installs and starts everything the tests need: pnpm + dependencies,
# Postgres, NATS (JetStream), a private dockerd and the local base image.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
ensure_postgres
ensure_nats
ensure_docker
log "services ready"
