#!/usr/bin/env bash
# `npm test`: set up services (unless --no-setup), type-check, lint (scripts/lint.sh),
# check that generated code is fresh, then run every test file with node's test runner.
# The services setup started stay up for the next run; `npm run setup -- stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
if [ "${1:-}" != "--no-setup" ]; then bash scripts/setup.sh; fi
# Tests run the built CLI (cli/bin/dockyard, test/src/e2e/built.test.ts): never an old build.
ensure_build
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/dockyard-docker/docker.sock}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
# The type-check runs beside the lint (each is one single-threaded process of about 30-45 s, on two cores).
log "type-checking (beside the lint)"
tsc_out=$(mktemp)
pnpm exec tsc -p tsconfig.json --noEmit >"$tsc_out" 2>&1 &
tsc_pid=$!
lint_status=0
bash scripts/lint.sh || lint_status=$?
if ! wait "$tsc_pid"; then
  cat "$tsc_out"
  rm -f "$tsc_out"
  die "type errors (above)"
fi
rm -f "$tsc_out"
log "type-check passed"
[ "$lint_status" -eq 0 ] || die "lint failed (above)"
log "checking formatting"
pnpm exec prettier --check --log-level warn . || die "not formatted: run 'npm run format'"
bash scripts/gen-check.sh
files=$(find proto pipeline control-plane agent web cli test testkit -name '*.test.ts' -not -path '*/node_modules/*' | sort)
# The files that take a minute or more start first, so that none of them is what the run waits for at its end.
slow="test/src/e2e/demo.test.ts test/src/e2e/compose.test.ts test/src/e2e/outage-postgres.test.ts test/src/e2e/outage-nats.test.ts
  test/src/e2e/outage-server.test.ts test/src/e2e/fence-partition.test.ts test/src/e2e/agent-kinds-contract.test.ts
  test/src/e2e/schedules.test.ts test/src/e2e/server-freeze.test.ts test/src/e2e/revoke-retry.test.ts test/src/e2e/package-agent.test.ts
  test/src/e2e/services-rollback.test.ts test/src/e2e/services-rollout.test.ts test/src/e2e/replica-freeze.test.ts
  test/src/e2e/alert-loop.test.ts test/src/e2e/partition-netns.test.ts test/src/e2e/partition-netns-docker.test.ts
  test/src/e2e/netns-farm.test.ts test/src/e2e/cli-runs-agents.test.ts test/src/e2e/agent-install.test.ts"
for f in $slow; do [ -f "$f" ] || die "scripts/test.sh lists $f as slow, but it does not exist"; done
files="$slow $(echo "$files" | grep -vxF -f <(echo "$slow" | tr -s ' \n' '\n' | sed '/^$/d'))"
# What the tests leave behind: this run gets a temporary directory of its own (other runs on the
# machine have theirs) and a baseline of the test engines' dockyard-* containers and volumes;
# the last file, leftovers.check.ts, fails on any dockyard-* entry left in the one or added to the other.
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/dockyard-test-run-XXXXXX")
# The run's databases (t_RUN_*): each file's is dropped by a psql it does not wait for (a DROP
# forces a checkpoint of the whole server, which on a slow disk held the file's lane for up to
# 70 s), and the EXIT trap drops what is left, also after a failed or interrupted run.
DOCKYARD_TEST_RUN=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
export DOCKYARD_TEST_RUN
trap 'node --import tsx test/src/leftovers/drop-databases.ts "$DOCKYARD_TEST_RUN" || true; rm -rf "$run_dir"' EXIT
export DOCKYARD_TEST_BASELINE="$run_dir/baseline.json"
node --import tsx test/src/leftovers/scan.ts baseline >"$DOCKYARD_TEST_BASELINE"
export TMPDIR="$run_dir/tmp"
mkdir "$TMPDIR"
# Passable by others (not listable), as /tmp is: a ui-test's journey runs as uid 65534 in a directory under it.
chmod 0711 "$run_dir" "$TMPDIR"
# Three files at a time: most of an e2e file's time is waiting (leases, outages, health checks),
# not CPU; each file has its own database, ports, service names and run ids. The leftovers
# check starts last and waits for the other files to end. --test-force-exit: a file's process
# ends when its tests have, even if a socket or timer it forgot would keep it alive (its exit
# handlers still run; what it leaked on the engines or on disk is what the leftovers check sees).
# The reporter is node's TAP with a recap of the failures above the closing counts (test/src/reporter/).
log "running $(echo "$files" | wc -w) test files three at a time, then the leftovers check"
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=3 --test-force-exit --test-reporter=./test/src/reporter/tap-with-recap.mjs $files test/src/leftovers/leftovers.check.ts
