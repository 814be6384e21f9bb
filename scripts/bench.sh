#!/usr/bin/env bash
# npm run bench -- NAME: start what the benchmark needs, run bench/NAME.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
name=${1:?usage: npm run bench -- NAME (one of: $(ls bench/*.ts | xargs -n1 basename | sed 's/\.ts$//' | tr '\n' ' '))}
[ -f "bench/$name.ts" ] || die "no benchmark named '$name' (bench/$name.ts)"
ensure_deps
ensure_build
ensure_postgres
ensure_nats
ensure_docker
# bench/web.ts loads the run page in Debian's Chromium (installed with the monitoring binaries).
if [ "$name" = web ]; then ensure_monitoring; fi
# bench/cli.ts times the CLI with hyperfine (Debian's package).
if [ "$name" = cli ] && ! command -v hyperfine >/dev/null; then log "installing hyperfine"; apt_install hyperfine; fi
exec node --import tsx "bench/$name.ts"
