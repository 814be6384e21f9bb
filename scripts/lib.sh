# Shared helpers for the setup scripts. Source it; do not run it.
# Every function is idempotent and fast when its service is already there.

PNPM_VERSION=12.4.2
DOCKYARD_RUN=${DOCKYARD_RUN:-/tmp/dockyard-services}
mkdir -p "$DOCKYARD_RUN"

log() { printf '\033[1m[dockyard]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

apt_install() {
  # apt-get update only when the install fails (package lists missing or stale).
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

ensure_pnpm() {
  if [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    log "installing pnpm $PNPM_VERSION"
    npm i -g "pnpm@$PNPM_VERSION" --allow-scripts=pnpm >/dev/null 2>&1 || npm i -g "pnpm@$PNPM_VERSION" >/dev/null
  fi
}

ensure_deps() {
  ensure_pnpm
  pnpm install --frozen-lockfile --reporter=silent >/dev/null 2>&1 || pnpm install --frozen-lockfile
  ensure_native_spawner
}

# The shell executor's native spawner (agent/native/dy-spawn.c); without it the agent
# falls back to a slower Node helper. Rebuilt when the source is newer.
ensure_native_spawner() {
  local src=agent/native/dy-spawn.c bin=agent/native/build/dy-spawn
  [ -x "$bin" ] && [ "$bin" -nt "$src" ] && return 0
  command -v cc >/dev/null || { log "installing a C compiler (for the agent's native spawner)"; apt_install gcc libc6-dev; }
  pnpm --silent --filter @dockyard/agent run build:native || die "building $bin failed"
}

nats_ready() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

ensure_nats() {
  nats_ready && return 0
  command -v nats-server >/dev/null || { log "installing nats-server"; apt_install nats-server; }
  log "starting nats-server (JetStream) on 127.0.0.1:4222"
  mkdir -p "$DOCKYARD_RUN/nats"
  setsid nohup nats-server -a 127.0.0.1 -p 4222 -m 8222 -js -sd "$DOCKYARD_RUN/nats" >"$DOCKYARD_RUN/nats.log" 2>&1 &
  for _ in $(seq 100); do nats_ready && return 0; sleep 0.1; done
  tail -n 20 "$DOCKYARD_RUN/nats.log" >&2; die "nats-server did not start"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  pg_ready && return 0
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then log "installing postgresql"; apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
  # A throwaway trust cluster on 127.0.0.1:5432 (the Debian cluster wants passwords over TCP).
  local d="$DOCKYARD_RUN/pg"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    mkdir -p "$d/data" "$d/sock"; chown -R postgres "$d"
    runuser -u postgres -- "$bin/initdb" -D "$d/data" --auth=trust -U postgres -E UTF8 >/dev/null
  fi
  log "starting a trust Postgres cluster on 127.0.0.1:5432"
  runuser -u postgres -- "$bin/pg_ctl" -D "$d/data" -l "$d/pg.log" -w -o "-c listen_addresses=127.0.0.1 -p 5432 -k $d/sock -c fsync=off" start >/dev/null \
    || { tail -n 20 "$d/pg.log" >&2; die "postgres did not start"; }
  psql -h 127.0.0.1 -U postgres -qc "select 1" >/dev/null || die "postgres is not answering on 127.0.0.1:5432"
}

ensure_docker() {
  # git: image builds from a git context (agent/src/docker/git-context.ts) shell out to it.
  command -v git >/dev/null || { log "installing git (for git build contexts)"; apt_install git; }
  bash "$(dirname "${BASH_SOURCE[0]}")/docker/start-dockerd.sh" >&2
  export DOCKER_HOST=unix:///tmp/dockyard-docker/docker.sock
  node --import tsx "$(dirname "${BASH_SOURCE[0]}")/docker/build-base-image.ts" >&2
}

# The examples' base images (ops/images/README.md): dockyard/static:1 (runtime) and
# dockyard/build:1 (GCC SDK, assembled from the host's Debian packages), on the engine at
# $DOCKER_HOST (default: the dev engine). Run once per engine; fast when present (content-hash label).
ensure_images() {
  dpkg -s gcc-12 libc6-dev make >/dev/null 2>&1 || { log "installing gcc-12 libc6-dev make (for dockyard/build:1)"; apt_install gcc-12 libc6-dev make; }
  DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/dockyard-docker/docker.sock} \
    node --import tsx "$(dirname "${BASH_SOURCE[0]}")/../ops/images/build-images.ts" >&2
}

# The second engine (/tmp/dockyard-docker-b) that registry tests pull on, so a pull really
# crosses the registry. DOCKER_HOST is set only for the base-image build: callers keep engine A.
ensure_docker_b() {
  bash "$(dirname "${BASH_SOURCE[0]}")/docker/start-dockerd.sh" b >&2
  DOCKER_HOST=unix:///tmp/dockyard-docker-b/docker.sock node --import tsx "$(dirname "${BASH_SOURCE[0]}")/docker/build-base-image.ts" >&2
}

# The private registry on 127.0.0.1:5000 (htpasswd user `dockyard`, password in /tmp/dockyard-registry/password).
ensure_registry() {
  bash "$(dirname "${BASH_SOURCE[0]}")/registry/start-registry.sh" >&2
}

# dist/: the CLI, server and agent bundled to JavaScript (scripts/build.ts), which
# cli/bin/dockyard runs. Rebuilt when the hash of its inputs (scripts/build-inputs.sh) differs
# from the one the last build wrote; when only mtimes moved (a checkout), its stamp is touched,
# so the CLI's newer-than check passes again. About 40 ms when up to date.
ensure_build() {
  local root hash
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  # shellcheck source=build-inputs.sh
  . "$root/scripts/build-inputs.sh"
  # shellcheck disable=SC2086 # the list is word-split on purpose
  hash=$(cd "$root" && { find $DOCKYARD_BUILD_INPUTS -type f ! -name '*.test.ts' -print0 2>/dev/null || true; } | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
  if [ "$(cat "$root/dist/.build-hash" 2>/dev/null)" = "$hash" ]; then
    touch "$root/dist/.build-hash"
    return 0
  fi
  log "building dist/ (the CLI, server and agent as JavaScript)"
  (cd "$root" && node --import tsx scripts/build.ts "$hash") || die "building dist/ failed"
}
