#!/usr/bin/env bash
# `npm run lint` (and `npm test`, after the type-check): the checks that need no tsc run.
# Runs every check, then names the ones that failed; exits non-zero if any did.
#   eslint      type-aware house rules (eslint.config.mjs): floating/misused promises, ...
#   depcruise   import cycles and package boundaries (.dependency-cruiser.cjs)
#   shellcheck  ops/install/install.sh, when shellcheck is installed
# The formatter check (`npm run format:check`) joins here once the tree is formatted: see FORMAT-GATE in test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
failed=()
run() {
  local name=$1 t0=$SECONDS
  shift
  log "lint: $name"
  if "$@"; then log "lint: $name ok ($((SECONDS - t0)) s)"; else log "lint: $name FAILED ($((SECONDS - t0)) s)"; failed+=("$name"); fi
}
run eslint pnpm exec eslint --max-warnings 0 .
run depcruise pnpm exec depcruise --config .dependency-cruiser.cjs --ignore-known .dependency-cruiser-known-violations.json \
  proto pipeline control-plane agent web cli test testkit bench scripts ops
# The agent's install script runs as root on operators' hosts (Debian: apt-get install shellcheck).
if command -v shellcheck >/dev/null; then run shellcheck shellcheck ops/install/install.sh; else log "lint: shellcheck not installed; ops/install/install.sh not checked"; fi
if [ ${#failed[@]} -gt 0 ]; then
  log "lint failed: ${failed[*]}"
  exit 1
fi
log "lint passed"
