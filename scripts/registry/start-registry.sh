#!/usr/bin/env bash
# Starts the private image registry for Dockyard tests and the dev farm (ENVIRONMENT.md §5), idempotently.
# Debian's docker-registry 2.8 on 127.0.0.1:5000 only, htpasswd auth (user `dockyard`, a random
# password made at first start), storage under /tmp/dockyard-registry/data.
# Our own config: the packaged /etc/docker/registry/config.yml listens on all interfaces and
# points htpasswd at a directory, which fails every request.
# Fast path (already answering): prints one line. Stop: kill "$(cat /tmp/dockyard-registry/registry.pid)".
set -euo pipefail

# apt_install, note_started (DOCKYARD_STARTED_DIR: who started which daemon), registry_dir.
source "$(dirname "$0")/../lib.sh"

# DOCKYARD_REGISTRY_LISTEN / DOCKYARD_REGISTRY_DIR: another instance (the demo's test runs its own);
# the directory defaults to /tmp/dockyard-registry-PORT for a port other than 5000.
ADDR=${DOCKYARD_REGISTRY_LISTEN:-127.0.0.1:5000}
if ! [[ "$ADDR" =~ ^127\.0\.0\.1:[0-9]{1,5}$ ]]; then
  echo "DOCKYARD_REGISTRY_LISTEN must be 127.0.0.1:PORT (loopback only), not '$ADDR'" >&2
  exit 2
fi
ROOT=$(registry_dir "$ADDR")
USER_NAME=dockyard
CONFIG="$ROOT/config.yml"
HTPASSWD="$ROOT/htpasswd"
PASSWORD_FILE="$ROOT/password"
LOG="$ROOT/registry.log"
PIDFILE="$ROOT/registry.pid"

# 401 = up and asking for credentials, i.e. our config (an auth-less registry would answer 200).
status() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$ADDR/v2/" 2>/dev/null || true; }

if [ "$(status)" = 401 ] && [ -s "$PASSWORD_FILE" ]; then
  echo "registry ready: http://$ADDR (user $USER_NAME, password in $PASSWORD_FILE)"
  exit 0
fi

if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
  echo "installing docker-registry and apache2-utils (apt output: $DOCKYARD_APT_LOG)" >&2
  apt_install docker-registry apache2-utils
fi

mkdir -p "$ROOT/data"
chmod 0700 "$ROOT"
# One starter at a time (setup runs in parallel): the password, htpasswd and pidfile are shared.
exec 9>"$ROOT/start.lock"
flock -w 60 9 || { echo "another start-registry.sh holds $ROOT/start.lock" >&2; exit 1; }
if [ "$(status)" = 401 ] && [ -s "$PASSWORD_FILE" ]; then
  echo "registry ready: http://$ADDR (user $USER_NAME, password in $PASSWORD_FILE)"
  exit 0
fi

# The password is made once and kept: images already pushed and tests that read it keep working
# across restarts. umask so the file is never readable by others, even for a moment.
if [ ! -s "$PASSWORD_FILE" ]; then
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$PASSWORD_FILE")
fi
chmod 0600 "$PASSWORD_FILE"
if [ ! -s "$HTPASSWD" ] || ! htpasswd -vb "$HTPASSWD" "$USER_NAME" "$(cat "$PASSWORD_FILE")" >/dev/null 2>&1; then
  # -i reads the password from stdin, so it never shows in `ps`.
  (umask 077; htpasswd -iBn "$USER_NAME" <"$PASSWORD_FILE" >"$HTPASSWD")
fi

cat >"$CONFIG" <<EOF
version: 0.1
log: { level: info, formatter: text }
storage:
  filesystem: { rootdirectory: $ROOT/data }
  delete: { enabled: true }
http:
  addr: $ADDR
auth:
  htpasswd: { realm: dockyard, path: $HTPASSWD }
EOF

# A registry that is still starting (a concurrent setup run): wait for it.
for _ in $(seq 50); do
  daemon_pid "$PIDFILE" docker-registry >/dev/null || break
  if [ "$(status)" = 401 ]; then echo "registry ready: http://$ADDR (user $USER_NAME, password in $PASSWORD_FILE)"; exit 0; fi
  sleep 0.1
done
if daemon_pid "$PIDFILE" docker-registry >/dev/null; then
  echo "registry (pid $(cat "$PIDFILE")) is running but http://$ADDR/v2/ answers '$(status)', not 401; see $LOG" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi
if [ -n "$(status)" ] && [ "$(status)" != 000 ]; then
  echo "something else answers on $ADDR (http $(status)); stop it first" >&2
  exit 1
fi

# setsid: the registry outlives the caller's process group (test runners kill theirs).
# 9>&-: the registry must not inherit (and so hold) the start lock.
setsid nohup docker-registry serve "$CONFIG" >"$LOG" 2>&1 </dev/null 9>&- &
RPID=$!
echo "$RPID" >"$PIDFILE"
note_started registry "$RPID"

for _ in $(seq 100); do
  if [ "$(status)" = 401 ]; then
    echo "registry started (pid $RPID): http://$ADDR (user $USER_NAME, password in $PASSWORD_FILE)"
    exit 0
  fi
  if ! kill -0 "$RPID" 2>/dev/null; then break; fi
  sleep 0.1
done

echo "registry did not answer 401 on http://$ADDR/v2/ within 10 s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
