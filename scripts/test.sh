#!/usr/bin/env bash
# `npm test`: set up services (unless --no-setup), type-check, lint (scripts/lint.sh),
# check that generated code is fresh, then run every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
if [ "${1:-}" != "--no-setup" ]; then bash scripts/setup.sh; fi
# Tests run the built CLI (cli/bin/dockyard, test/src/e2e/built.test.ts): never an old build.
ensure_build
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/dockyard-docker/docker.sock}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
log "type-checking"
pnpm exec tsc -p tsconfig.json --noEmit
bash scripts/lint.sh
log "checking formatting"
pnpm exec prettier --check --log-level warn . || die "not formatted: run 'npm run format'"
bash scripts/gen-check.sh
files=$(find proto pipeline control-plane agent web cli test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
log "running $(echo "$files" | wc -w) test files"
# shellcheck disable=SC2086
exec node --import tsx --test --test-reporter=tap $files
