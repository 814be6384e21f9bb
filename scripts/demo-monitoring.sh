# The demo's monitoring, for the continuous example: a Pushgateway, Alertmanager and Prometheus
# (Debian's) on the three ports after the server's HTTP port, running ops/'s rules and routes with
# 1 s intervals (ops/monitoring/render.ts), so a broken release alerts and rolls back in seconds.
# Prometheus scrapes the server's /metrics and the Pushgateway; Alertmanager posts to the server's
# receiver with the bearer token in $DEMO/alert-token. Sourced by scripts/demo.sh (which sets
# DEMO, GRPC_PORT, HTTP_PORT); recorded as $DEMO/{pushgateway,alertmanager,prometheus}.pid.

PUSHGATEWAY_PORT=$((GRPC_PORT + 2))
ALERTMANAGER_PORT=$((GRPC_PORT + 3))
PROMETHEUS_PORT=$((GRPC_PORT + 4))
MONITORING_DAEMONS=(prometheus alertmanager pushgateway) # stopped in this order

# Prometheus first, so that it does not log failed sends to an Alertmanager already gone.
stop_monitoring() {
  local d
  for d in "${MONITORING_DAEMONS[@]}"; do stop_recorded "$DEMO/$d.pid" 10; done
}

# start_daemon NAME PORT COMMAND...: started in its own session in $DEMO/monitoring, recorded,
# and waited for until /-/ready answers (dies with the end of its log otherwise).
start_daemon() {
  local name=$1 port=$2 i
  shift 2
  (cd "$DEMO/monitoring" && exec setsid nohup "$@" >"$DEMO/$name.log" 2>&1 </dev/null) &
  record_pid "$DEMO/$name.pid" $!
  for i in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && return 0
    pid_alive "$DEMO/$name.pid" >/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$DEMO/$name.log" >&2
  die "$name did not get ready on 127.0.0.1:$port (its log: $DEMO/$name.log)"
}

start_monitoring() {
  local dir=$DEMO/monitoring
  log "starting a Pushgateway, Alertmanager and Prometheus (ops/ rules, 1 s intervals) on ports $PUSHGATEWAY_PORT-$PROMETHEUS_PORT"
  # Fresh each time: an earlier demo's alerts and samples would describe an earlier farm.
  rm -rf "$dir"
  mkdir -p "$dir"
  node --import tsx ops/monitoring/render.ts --dir "$dir" \
    --alertmanager "127.0.0.1:$ALERTMANAGER_PORT" --pushgateway "127.0.0.1:$PUSHGATEWAY_PORT" \
    --scrape "127.0.0.1:$HTTP_PORT" \
    --receiver "http://127.0.0.1:$HTTP_PORT/api/v1/alerts/alertmanager" --receiver-token-file "$DEMO/alert-token" \
    >/dev/null || die "rendering the monitoring configs failed"
  # An empty persistence file: Debian's default is one file shared by every Pushgateway.
  start_daemon pushgateway "$PUSHGATEWAY_PORT" prometheus-pushgateway \
    "--web.listen-address=127.0.0.1:$PUSHGATEWAY_PORT" --persistence.file=
  # No cluster gossip: it would bind 0.0.0.0:9094, which a second demo (or a real one) holds.
  start_daemon alertmanager "$ALERTMANAGER_PORT" prometheus-alertmanager \
    "--config.file=$dir/alertmanager.yml" "--storage.path=$dir/alertmanager-data" \
    "--web.listen-address=127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address= --log.level=warn
  start_daemon prometheus "$PROMETHEUS_PORT" prometheus \
    "--config.file=$dir/prometheus.yml" "--storage.tsdb.path=$dir/prometheus-data" \
    "--web.listen-address=127.0.0.1:$PROMETHEUS_PORT" --log.level=warn
}
