#!/usr/bin/env bash
# Installs, upgrades or removes a Dockyard agent on a Debian host, run as root from an unpacked
# release package (dockyard-<version>-linux-<arch>/install.sh):
#
#   ./install.sh --server ADDR[,ADDR...] --token-file FILE [--labels k=v,...] [--capacity N] [more flags]
#   ./install.sh                      upgrade: the new package, the existing /etc/dockyard/agent.env
#   ./install.sh --uninstall [--purge]
#
# It copies the package to /opt/dockyard/<version>, points /opt/dockyard/current at it, creates the
# system user `dockyard` (in the group `docker`), /etc/dockyard/agent.env (0600), the state directory
# /var/lib/dockyard-agent (0700, the user's) and the unit dockyard-agent.service, then enables and
# (re)starts it when systemd runs this host. Every step is idempotent: running it twice changes nothing.
set -euo pipefail

PREFIX=/opt/dockyard
CONF_DIR=/etc/dockyard
ENV_FILE=$CONF_DIR/agent.env
STATE_DIR=/var/lib/dockyard-agent
UNIT=dockyard-agent.service
UNIT_FILE=/etc/systemd/system/$UNIT
BIN_LINK=/usr/local/bin/dockyard
AGENT_USER=dockyard
DOCKER_GROUP=docker

say() { printf '%s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'install.sh: %s\n(./install.sh --help for usage)\n' "$*" >&2
  exit 2
}

usage() {
  cat <<'EOF'
Usage: ./install.sh --server ADDR[,ADDR...] --token-file FILE [options]   install or reconfigure
       ./install.sh [options]                                               upgrade (keeps agent.env)
       ./install.sh --uninstall [--purge]                                   remove

  --server ADDR[,ADDR...]  the server's gRPC address host:port (every replica, comma-separated)
  --token-file FILE        a file holding the join token from `dockyard token create`
  --labels k=v,...         labels stages can require; added to the host's own (os, arch, cpus, ...)
  --capacity N             stages at once, 1-256 (default 2)
  --nats URL               NATS URL (default nats://<first server host>:4222)
  --name NAME              agent name (default: the host name)
  --executor KIND          docker, shell or auto (default auto: docker when the engine answers)
  --ca-fingerprint HEX     pin the server's CA by this SHA-256 (default: the one the join token carries)
  --ca-file FILE           the server's CA certificate (copied to /etc/dockyard/ca.crt)
  --env NAME=VALUE         any other agent variable (DOCKYARD_* or DOCKER_HOST); repeatable
  --no-start               install only; do not enable or (re)start the unit
  --uninstall              stop and remove the agent: unit, user, /etc/dockyard, /opt/dockyard;
                           keeps its state directory /var/lib/dockyard-agent (its identity, spool)
  --purge                  with --uninstall: remove the state directory too
  -h, --help               this text

Given flags change only their settings in an existing agent.env; the others stay.
EOF
}

# --- flags -------------------------------------------------------------------------------------
declare -A set_env=() # agent.env settings given on the command line
extra_env=()
token_file="" ca_file="" uninstall=0 purge=0 no_start=0

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi; }

# Values go into an EnvironmentFile that is also sourced by sh (see the start hint below): keep them
# to characters that mean nothing to either.
safe_value() {
  [[ $2 =~ ^[A-Za-z0-9._/:@+=,%-]*$ ]] ||
    usage_error "$1: '$2' holds a character other than letters, digits and . _ / : @ + = , % -"
}

check_server() {
  local addr host port
  IFS=, read -ra addrs <<<"$1"
  [ ${#addrs[@]} -gt 0 ] || usage_error "--server: give host:port of the server's gRPC endpoint"
  for addr in "${addrs[@]}"; do
    [[ $addr =~ ^([^[:space:]/:,]+):([0-9]{1,5})$ ]] ||
      usage_error "--server: '$addr' is not host:port (e.g. 10.0.0.1:7443; replicas comma-separated)"
    host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
    [[ $host =~ ^[A-Za-z0-9.-]+$ ]] || usage_error "--server: '$host' is not a host name or IPv4 address"
    ((10#$port >= 1 && 10#$port <= 65535)) || usage_error "--server: port $port of '$addr' is not 1-65535"
  done
}

check_labels() {
  local item key value
  IFS=, read -ra items <<<"$1"
  for item in "${items[@]}"; do
    [[ $item == *=* ]] || usage_error "--labels: '$item' is not key=value"
    key=${item%%=*} value=${item#*=}
    { [[ $key =~ ^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$ ]] && [ "$key" != __proto__ ]; } ||
      usage_error "--labels: key '$key' must start with a letter or digit and hold letters, digits, . _ / - (max 63)"
    [[ $value =~ ^[A-Za-z0-9._/:@+-]{0,128}$ ]] ||
      usage_error "--labels: value '$value' of '$key' may hold letters, digits and . _ / : @ + - (max 128)"
  done
}

while [ $# -gt 0 ]; do
  case "$1" in
    --server)
      need_value "$@"
      check_server "$2"
      set_env[DOCKYARD_SERVER_URL]=$2
      shift 2
      ;;
    --token-file)
      need_value "$@"
      token_file=$2
      shift 2
      ;;
    --labels)
      need_value "$@"
      check_labels "$2"
      set_env[DOCKYARD_AGENT_LABELS]=$2
      shift 2
      ;;
    --capacity)
      need_value "$@"
      { [[ $2 =~ ^[0-9]{1,3}$ ]] && ((10#$2 >= 1 && 10#$2 <= 256)); } ||
        usage_error "--capacity: '$2' is not a whole number from 1 to 256"
      set_env[DOCKYARD_AGENT_CAPACITY]=$((10#$2))
      shift 2
      ;;
    --nats)
      need_value "$@"
      [[ $2 =~ ^(nats|tls)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(,(nats|tls)://[A-Za-z0-9.-]+(:[0-9]{1,5})?)*$ ]] ||
        usage_error "--nats: '$2' is not nats://host[:port] (several comma-separated)"
      set_env[DOCKYARD_NATS_URL]=$2
      shift 2
      ;;
    --name)
      need_value "$@"
      [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || usage_error "--name: '$2' must be letters, digits, . _ - (max 63)"
      set_env[DOCKYARD_AGENT_NAME]=$2
      shift 2
      ;;
    --executor)
      need_value "$@"
      [[ $2 =~ ^(docker|shell|auto)$ ]] || usage_error "--executor: '$2' is not docker, shell or auto"
      set_env[DOCKYARD_AGENT_EXECUTOR]=$2
      shift 2
      ;;
    --ca-fingerprint)
      need_value "$@"
      [[ $2 =~ ^(sha256:)?[0-9a-fA-F]{64}$ ]] || usage_error "--ca-fingerprint: expected the 64 hex digits of a SHA-256"
      set_env[DOCKYARD_CA_FINGERPRINT]=$2
      shift 2
      ;;
    --ca-file)
      need_value "$@"
      { [ -f "$2" ] && [ -r "$2" ]; } || usage_error "--ca-file: cannot read '$2'"
      grep -q -- '-----BEGIN CERTIFICATE-----' "$2" || usage_error "--ca-file: '$2' holds no PEM certificate"
      ca_file=$2
      shift 2
      ;;
    --env)
      need_value "$@"
      [[ $2 =~ ^(DOCKYARD_[A-Z0-9_]+|DOCKER_HOST)=(.*)$ ]] || usage_error "--env: '$2' is not DOCKYARD_NAME=value (or DOCKER_HOST=...)"
      key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
      [[ $key != DOCKYARD_JOIN_TOKEN* ]] || usage_error "--env: give the join token with --token-file"
      safe_value --env "$value"
      extra_env+=("$key")
      set_env[$key]=$value
      shift 2
      ;;
    --no-start)
      no_start=1
      shift
      ;;
    --uninstall)
      uninstall=1
      shift
      ;;
    --purge)
      purge=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || usage_error "--purge goes with --uninstall"
if [ "$uninstall" = 1 ] && { [ ${#set_env[@]} -gt 0 ] || [ -n "$token_file" ] || [ -n "$ca_file" ]; }; then
  usage_error "--uninstall takes no other flag than --purge"
fi
[ "$(id -u)" = 0 ] || die "run me as root (I create a system user, /etc/dockyard and a systemd unit)"
for cmd in useradd groupadd usermod userdel getent install cp ln mv; do
  command -v "$cmd" >/dev/null || die "'$cmd' is missing on this host (Debian: apt-get install passwd coreutils)"
done

# systemd manages this host only when it is PID 1 (sd_booted(3) checks the same directory).
systemd_running() { [ -d /run/systemd/system ]; }

# --- uninstall ---------------------------------------------------------------------------------
if [ "$uninstall" = 1 ]; then
  if systemd_running && [ -f "$UNIT_FILE" ]; then
    say "stopping $UNIT (the agent drains: running stages finish first)"
    systemctl disable --now "$UNIT" || true
  fi
  if getent passwd "$AGENT_USER" >/dev/null && pids=$(pgrep -u "$AGENT_USER" | tr '\n' ' ') && [ -n "$pids" ]; then
    die "processes of user $AGENT_USER still run (pids ${pids% }): stop the agent first (kill -TERM PID drains it), then run --uninstall again"
  fi
  removed=()
  # rm_path PATH: removes a file, link or tree that exists and notes it.
  rm_path() { if [ -e "$1" ] || [ -L "$1" ]; then rm -rf "$1" && removed+=("$1"); fi; }
  rm_path "$UNIT_FILE"
  if systemd_running; then systemctl daemon-reload; fi
  rm_path "$CONF_DIR"
  if [ -L "$BIN_LINK" ] && [[ $(readlink "$BIN_LINK") == "$PREFIX"/* ]]; then rm_path "$BIN_LINK"; fi
  rm_path "$PREFIX"
  if getent passwd "$AGENT_USER" >/dev/null; then userdel "$AGENT_USER" && removed+=("user $AGENT_USER"); fi
  if getent group "$AGENT_USER" >/dev/null; then groupdel "$AGENT_USER" && removed+=("group $AGENT_USER"); fi
  if [ "$purge" = 1 ]; then rm_path "$STATE_DIR"; fi
  say "removed: ${removed[*]:-nothing (no agent was installed)}"
  if [ "$purge" = 0 ] && [ -d "$STATE_DIR" ]; then
    say "kept $STATE_DIR (the agent's identity and log spool); --uninstall --purge removes it"
  fi
  say "the group $DOCKER_GROUP stays (Docker's own)"
  exit 0
fi

# --- the package -------------------------------------------------------------------------------
src=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
for f in VERSION bin/dockyard node/bin/node systemd/$UNIT; do
  [ -e "$src/$f" ] || die "$src is not an unpacked Dockyard package: $f is missing"
done
read -r version commit <"$src/VERSION" || true
[[ ${version:-} =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]*$ ]] || die "$src/VERSION does not start with a version: '$(head -c 80 "$src/VERSION")'"

# --- agent.env: the existing settings, then the flags over them ---------------------------------
declare -A env=()
order=(DOCKYARD_SERVER_URL DOCKYARD_NATS_URL DOCKYARD_JOIN_TOKEN DOCKYARD_CA_FINGERPRINT DOCKYARD_CA_FILE
  DOCKYARD_AGENT_NAME DOCKYARD_AGENT_LABELS DOCKYARD_AGENT_CAPACITY DOCKYARD_AGENT_EXECUTOR
  DOCKYARD_AGENT_STATE_DIR)
if [ -f "$ENV_FILE" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    env[$key]=${BASH_REMATCH[2]}
    [[ " ${order[*]} " == *" $key "* ]] || extra_env+=("$key")
  done <"$ENV_FILE"
fi
changed=0
if [ -n "$token_file" ]; then
  { [ -f "$token_file" ] && [ -r "$token_file" ]; } || usage_error "--token-file: cannot read '$token_file'"
  token=$(tr -d ' \t\r\n' <"$token_file")
  [ ${#token} -ge 16 ] || usage_error "--token-file: '$token_file' holds no join token (at least 16 characters)"
  [[ $token =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "--token-file: '$token_file' holds more than one join token's characters"
  env[DOCKYARD_JOIN_TOKEN]=$token
  changed=1
fi
for key in "${!set_env[@]}"; do
  env[$key]=${set_env[$key]}
  changed=1
done
if [ -n "$ca_file" ]; then
  env[DOCKYARD_CA_FILE]=$CONF_DIR/ca.crt
  changed=1
fi
[ -n "${env[DOCKYARD_SERVER_URL]:-}" ] || usage_error "--server is required for a first install (no $ENV_FILE yet)"
[ -n "${env[DOCKYARD_JOIN_TOKEN]:-}" ] || usage_error "--token-file is required for a first install (no join token in $ENV_FILE)"
if [[ ${env[DOCKYARD_JOIN_TOKEN]} != *.* ]] && [ -z "${env[DOCKYARD_CA_FINGERPRINT]:-}" ] && [ -z "${env[DOCKYARD_CA_FILE]:-}" ]; then
  usage_error "the join token carries no CA fingerprint (tokens from \`dockyard token create\` end in .<fingerprint>): give --ca-fingerprint or --ca-file"
fi
server_host=${env[DOCKYARD_SERVER_URL]%%,*}
server_host=${server_host%:*}
: "${env[DOCKYARD_NATS_URL]:=nats://$server_host:4222}"
env[DOCKYARD_AGENT_STATE_DIR]=$STATE_DIR
for key in "${!env[@]}"; do safe_value "$key" "${env[$key]}"; done

# --- files -------------------------------------------------------------------------------------
dest=$PREFIX/$version
install -d -m 0755 -o root -g root "$PREFIX"
if [ "$(readlink -f "$src")" = "$(readlink -f "$dest" 2>/dev/null || true)" ]; then
  say "running from $dest: nothing to copy"
elif [ -f "$dest/VERSION" ] && cmp -s "$src/VERSION" "$dest/VERSION"; then
  say "$dest holds this package already ($version ${commit:-})"
else
  # Copied beside, then renamed: a half-copied tree is never `current`. Root owns it and only
  # root may write it, so the agent's user cannot change the code it runs.
  tmp=$PREFIX/.$version.tmp.$$
  rm -rf "$tmp"
  cp -R --preserve=mode,timestamps,links "$src" "$tmp"
  chown -R root:root "$tmp"
  chmod -R go-w "$tmp"
  if [ -e "$dest" ]; then rm -rf "$dest"; fi
  mv -T "$tmp" "$dest"
  say "copied the package to $dest"
fi
previous=$(readlink "$PREFIX/current" 2>/dev/null || true)
ln -sfn "$version" "$PREFIX/.current.tmp"
mv -T "$PREFIX/.current.tmp" "$PREFIX/current"
[ "$previous" = "$version" ] || say "$PREFIX/current -> $version${previous:+ (was $previous)}"
# Keep the previous version beside the new one (a rollback is its install.sh), no older ones.
for old in "$PREFIX"/*/; do
  old=$(basename "$old")
  if [ ! -L "$PREFIX/$old" ] && [ "$old" != "$version" ] && [ "$old" != "$previous" ]; then
    rm -rf "${PREFIX:?}/$old"
    say "removed the old version $PREFIX/$old"
  fi
done
if [ ! -e "$BIN_LINK" ] || { [ -L "$BIN_LINK" ] && [[ $(readlink "$BIN_LINK") == "$PREFIX"/* ]]; }; then
  install -d -m 0755 "$(dirname "$BIN_LINK")"
  ln -sfn "$PREFIX/current/bin/dockyard" "$BIN_LINK"
fi

getent group "$DOCKER_GROUP" >/dev/null || {
  groupadd --system "$DOCKER_GROUP"
  say "created the group $DOCKER_GROUP"
}
if ! getent passwd "$AGENT_USER" >/dev/null; then
  useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
    --comment "Dockyard agent" "$AGENT_USER"
  say "created the system user $AGENT_USER"
fi
if ! id -nG "$AGENT_USER" | tr ' ' '\n' | grep -qx "$DOCKER_GROUP"; then
  usermod -a -G "$DOCKER_GROUP" "$AGENT_USER"
fi

# The agent's key, id and spool. A state directory kept by --uninstall belongs to the uid of a
# user since deleted: hand it to the new one.
install -d -m 0700 -o "$AGENT_USER" -g "$AGENT_USER" "$STATE_DIR"
if [ "$(stat -c %U "$STATE_DIR")" != "$AGENT_USER" ] || [ -n "$(find "$STATE_DIR" -mindepth 1 ! -user "$AGENT_USER" -print -quit)" ]; then
  chown -R "$AGENT_USER:$AGENT_USER" "$STATE_DIR"
fi
chmod 0700 "$STATE_DIR"

# Root's only: systemd reads it (EnvironmentFile=) before it drops to the agent's user, and it
# holds the join token.
install -d -m 0755 -o root -g root "$CONF_DIR"
if [ -n "$ca_file" ]; then install -m 0644 -o root -g root "$ca_file" "$CONF_DIR/ca.crt"; fi
if [ "$changed" = 1 ] || [ ! -f "$ENV_FILE" ]; then
  tmp_env=$(mktemp "$CONF_DIR/.agent.env.XXXXXX")
  {
    say "# Written by install.sh (Dockyard $version); settings: see .env.example in the package."
    say "# Run install.sh again with flags to change them; other lines are kept."
    for key in "${order[@]}"; do
      if [ -n "${env[$key]:-}" ]; then say "$key=${env[$key]}"; fi
    done
    printf '%s\n' "${extra_env[@]}" | sort -u | while read -r key; do
      if [ -n "$key" ] && [ -n "${env[$key]:-}" ]; then say "$key=${env[$key]}"; fi
    done
  } >"$tmp_env"
  chown root:root "$tmp_env"
  chmod 0600 "$tmp_env"
  mv -f "$tmp_env" "$ENV_FILE"
  say "wrote $ENV_FILE"
else
  chown root:root "$ENV_FILE"
  chmod 0600 "$ENV_FILE"
  say "kept $ENV_FILE"
fi

install -d -m 0755 "$(dirname "$UNIT_FILE")"
install -m 0644 -o root -g root "$src/systemd/$UNIT" "$UNIT_FILE"

# --- start -------------------------------------------------------------------------------------
check="$BIN_LINK agent --check --env-file $ENV_FILE"
if [ "$no_start" = 1 ]; then
  say "installed Dockyard $version; not started (--no-start)"
elif systemd_running; then
  systemctl daemon-reload
  systemctl enable "$UNIT" >/dev/null
  # restart, not start: an upgrade must replace the running agent (it drains first).
  systemctl restart "$UNIT"
  say "installed Dockyard $version; $UNIT enabled and (re)started: journalctl -u $UNIT -f"
else
  say "installed Dockyard $version; systemd is not running on this host (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)),"
  say "so start the agent as the unit would, as root:"
  say "  (set -a; . $ENV_FILE; cd $STATE_DIR && exec setpriv --reuid=$AGENT_USER --regid=$AGENT_USER --init-groups $PREFIX/current/bin/dockyard agent)"
fi
say "check it with: $check"
