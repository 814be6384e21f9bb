# Shared helpers for the setup scripts. Source it; do not run it.
# Every function is idempotent and fast when its service is already there.

PNPM_VERSION=12.4.2
DOCKYARD_RUN=${DOCKYARD_RUN:-/tmp/dockyard-services}
mkdir -p "$DOCKYARD_RUN"

# apt's output of a first install (debconf, needrestart, ...) goes here, not to the terminal.
DOCKYARD_APT_LOG=${DOCKYARD_APT_LOG:-$DOCKYARD_RUN/apt.log}
# Where the scripts note each daemon they start (NAME.pid: "PID STARTTIME"), when set: the
# demo points it at .dockyard/demo/services so that its `stop` stops exactly what it started.
DOCKYARD_STARTED_DIR=${DOCKYARD_STARTED_DIR:-}

log() { printf '\033[1m[dockyard]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt-get install ARGS..., quietly; apt-get update only when the install fails (package lists
# missing or stale). On failure the end of the log is shown.
apt_get_install() {
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  local apt=(apt-get -o DPkg::Lock::Timeout=600)
  "${apt[@]}" install -y -qq "$@" >>"$DOCKYARD_APT_LOG" 2>&1 && return 0
  "${apt[@]}" update -qq >>"$DOCKYARD_APT_LOG" 2>&1 || true
  "${apt[@]}" install -y -qq "$@" >>"$DOCKYARD_APT_LOG" 2>&1 && return 0
  tail -n 20 "$DOCKYARD_APT_LOG" >&2
  die "apt-get install $* failed (log: $DOCKYARD_APT_LOG)"
}
apt_install() { apt_get_install --no-install-recommends "$@"; }

# The start time of process PID (clock ticks since boot; /proc/PID/stat field 22): a pid and
# its start time name one process, even after the pid is reused.
proc_start() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# record_pid FILE PID: notes the process in FILE, for pid_alive and stop_recorded.
record_pid() { mkdir -p "$(dirname "$1")"; echo "$2 $(proc_start "$2")" >"$1"; }

# pid_alive FILE: prints the recorded pid and succeeds while that very process runs.
pid_alive() {
  local pid start
  [ -f "$1" ] || return 1
  read -r pid start <"$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -d "/proc/$pid" ] || return 1
  # A pid file without a start time (an older demo) is trusted as it is.
  if [ -n "${start:-}" ] && [ "$(proc_start "$pid")" != "$start" ]; then return 1; fi
  echo "$pid"
}

# daemon_pid PIDFILE COMM: prints the pid in PIDFILE (a daemon's own, pid first) and succeeds
# while that pid runs the program COMM. A pid file left by a daemon that died with its machine (a
# snapshot of /tmp, a reboot) may name a pid reused by an unrelated process: kill -0 alone would
# call that daemon alive, and the start script would give up instead of starting it.
daemon_pid() {
  local pid
  [ -f "$1" ] || return 1
  read -r pid _ <"$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  echo "$pid"
}

# stop_recorded FILE GRACE_S [SECOND_TERM_S [SIGNAL]]: stops the process recorded in FILE (if it is
# still that process) with SIGNAL (default TERM) and waits for it and for the rest of its session (children such as
# the agent's supervisor); with SECOND_TERM_S, a second SIGTERM after that many seconds (an agent
# drains on the first one); SIGKILL to what is left after GRACE_S. Removes FILE.
stop_recorded() {
  local file=$1 grace=$2 second=${3:-} signal=${4:-TERM} pid i
  if pid=$(pid_alive "$file"); then
    kill "-$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      session_gone "$pid" && break
      if [ -n "$second" ] && [ "$i" -eq $((second * 10)) ]; then kill -TERM "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
    if ! session_gone "$pid"; then
      log "$(basename "$file" .pid) (pid $pid) did not stop within ${grace} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      pkill -KILL -s "$pid" 2>/dev/null || true
      for _ in $(seq 50); do session_gone "$pid" && break; sleep 0.1; done
    fi
  fi
  rm -f "$file"
}

# session_gone PID: PID has exited, and so has every process of the session it leads (if it
# does). Zombies count as gone: whoever inherited them may be slow to reap them.
session_gone() { ! ps -e -o pid=,sid=,stat= | awk -v p="$1" '($1 == p || $2 == p) && $3 !~ /^Z/ { found = 1 } END { exit !found }'; }

# stop_started DIR: stops the daemons recorded in DIR by note_started (never one that was already
# running when they were started) and prints their names.
stop_started() {
  local f name stopped=()
  for f in "$1"/registry.pid "$1"/nats.pid "$1"/postgres.pid "$1"/dockerd*.pid "$1"/containerd*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if pid_alive "$f" >/dev/null; then stopped+=("$name"); fi
    # SIGINT is Postgres's fast shutdown (SIGTERM would wait for every client to leave); dockerd
    # stops its containers (up to 15 s each) and its containerd on the way out.
    if [ "$name" = postgres ]; then stop_recorded "$f" 40 "" INT; else stop_recorded "$f" 40; fi
  done
  echo "${stopped[*]}"
}

# note_started NAME PID: records a daemon this run started, when DOCKYARD_STARTED_DIR is set.
note_started() { [ -z "$DOCKYARD_STARTED_DIR" ] || record_pid "$DOCKYARD_STARTED_DIR/$1.pid" "$2"; }

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

nats_ready() { (exec 3<>"/dev/tcp/127.0.0.1/${1:-4222}") 2>/dev/null; }

# ensure_nats [PORT]: NATS with JetStream on 127.0.0.1:PORT (default 4222, with monitoring on 8222).
ensure_nats() {
  local port=${1:-4222} dir=$DOCKYARD_RUN/nats monitor=(-m 8222)
  if [ "$port" != 4222 ]; then dir=$DOCKYARD_RUN/nats-$port monitor=(); fi
  nats_ready "$port" && return 0
  command -v nats-server >/dev/null || { log "installing nats-server"; apt_install nats-server; }
  log "starting nats-server (JetStream) on 127.0.0.1:$port"
  mkdir -p "$dir"
  setsid nohup nats-server -a 127.0.0.1 -p "$port" "${monitor[@]}" -js -sd "$dir" >"$dir.log" 2>&1 &
  note_started nats $!
  for _ in $(seq 100); do nats_ready "$port" && return 0; sleep 0.1; done
  tail -n 20 "$dir.log" >&2; die "nats-server did not start"
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
  note_started postgres "$(head -n 1 "$d/data/postmaster.pid")"
  psql -h 127.0.0.1 -U postgres -qc "select 1" >/dev/null || die "postgres is not answering on 127.0.0.1:5432"
}

# ensure_docker [INSTANCE]: the dev engine (/tmp/dockyard-docker), or another instance of it
# (/tmp/dockyard-docker-INSTANCE), with the base image; exports DOCKER_HOST for it.
ensure_docker() {
  local instance=${1:-}
  # git: image builds from a git context (agent/src/docker/git-context.ts) shell out to it.
  command -v git >/dev/null || { log "installing git (for git build contexts)"; apt_install git; }
  bash "$(dirname "${BASH_SOURCE[0]}")/docker/start-dockerd.sh" $instance >&2
  export DOCKER_HOST=unix:///tmp/dockyard-docker${instance:+-$instance}/docker.sock
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

# Debian's docker-compose (1.29, the Python one; Debian has no Compose v2) for ops/compose/ and its
# test (test/src/e2e/compose.test.ts). It works with our dockerd: user-defined bridge networks
# (embedded DNS) need no default bridge, and published ports go through docker-proxy.
ensure_docker_compose() {
  command -v docker-compose >/dev/null || { log "installing docker-compose (for ops/compose)"; apt_install docker-compose; }
}

# The compose farm's images (ops/images/build-dockyard-images.ts): the release package
# (npm run package, about 50 s), then dockyard/server, agent, postgres and nats from it and the host's
# Debian files, on the engine at $DOCKER_HOST. Each image is left alone when its content hash matches.
ensure_compose_images() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dpkg -s postgresql-15 nats-server git >/dev/null 2>&1 || { log "installing postgresql-15 nats-server git (their files go into the compose images)"; apt_install postgresql-15 nats-server git; }
  ensure_build
  # buildPackage, not the script: the script exits 1 while ops/install/install.sh is missing, which
  # the images do not need.
  (cd "$root" && node --import tsx --input-type=module -e "await (await import('./scripts/package.ts')).buildPackage()" >&2) \
    || die "npm run package failed"
  DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/dockyard-docker/docker.sock} \
    node --import tsx "$root/ops/images/build-dockyard-images.ts" >&2 || die "building the compose images failed"
}

# The second engine (/tmp/dockyard-docker-b) that registry tests pull on, so a pull really
# crosses the registry. DOCKER_HOST is set only for the base-image build: callers keep engine A.
ensure_docker_b() {
  bash "$(dirname "${BASH_SOURCE[0]}")/docker/start-dockerd.sh" b >&2
  DOCKER_HOST=unix:///tmp/dockyard-docker-b/docker.sock node --import tsx "$(dirname "${BASH_SOURCE[0]}")/docker/build-base-image.ts" >&2
}

# registry_dir ADDR: where start-registry.sh keeps the registry at ADDR (its data, password, pid).
registry_dir() {
  if [ -n "${DOCKYARD_REGISTRY_DIR:-}" ]; then echo "$DOCKYARD_REGISTRY_DIR"
  elif [ "${1##*:}" = 5000 ]; then echo /tmp/dockyard-registry
  else echo "/tmp/dockyard-registry-${1##*:}"; fi
}

# The private registry on 127.0.0.1:5000 (htpasswd user `dockyard`, password in /tmp/dockyard-registry/password);
# DOCKYARD_REGISTRY_LISTEN and DOCKYARD_REGISTRY_DIR move it (scripts/registry/start-registry.sh).
ensure_registry() {
  bash "$(dirname "${BASH_SOURCE[0]}")/registry/start-registry.sh" >&2
}

# HAProxy from Debian: the agents start one per service per host (agent/src/services/service-proxy.ts);
# only the binary is needed, nothing runs until a service does.
ensure_haproxy() {
  command -v haproxy >/dev/null || { log "installing haproxy (the per-host service proxy)"; apt_install haproxy; }
}

# Prometheus, Alertmanager and the Pushgateway (Debian's, ENVIRONMENT.md section 6) and Chromium for
# the ui-test stage. Only the binaries: tests start their own on free ports (testkit startMonitoring),
# so nothing runs here. Four dpkg-queries, about 60 ms, when they are all there.
ensure_monitoring() {
  local pkgs=(prometheus prometheus-alertmanager prometheus-pushgateway chromium) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (monitoring and the ui-test browser; about a minute)"
  apt_install "${missing[@]}"
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
