#!/usr/bin/env bash
# Installs and starts everything the tests need: pnpm + dependencies, the JavaScript build (dist/),
# Postgres, NATS (JetStream), two private dockerds with the local base image, the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
ensure_build
ensure_postgres
ensure_nats
ensure_docker
ensure_images
ensure_docker_b
ensure_registry
log "services ready"
