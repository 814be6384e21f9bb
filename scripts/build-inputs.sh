# The files dist/ is bundled from (scripts/build.ts), relative to the repository root; tests
# (*.test.ts) are left out. Sourced by scripts/lib.sh (ensure_build hashes them) and by
# cli/bin/dockyard (which runs dist/ only while none of them is newer than the build).
# shellcheck shell=sh
DOCKYARD_BUILD_INPUTS="proto/src pipeline/src control-plane/src agent/src web/src cli/src
  proto/package.json pipeline/package.json control-plane/package.json agent/package.json web/package.json cli/package.json
  package.json pnpm-lock.yaml scripts/build.ts scripts/build-inputs.sh"
