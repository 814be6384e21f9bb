# The demo's examples and its closing message; sourced by scripts/demo.sh (which sets
# EXAMPLES, DEMO, ROOT, dockyard, DOCKYARD_SERVER, HTTP_PORT).

declare -A RUN_ID=() RESULT=() OK=()
code=0

describe_example() {
  case $1 in
    hello) echo "a DAG of six command stages on both agents, with a secret" ;;
    webapp) echo "build, push, temporary environment, tests, image sizes; approval, release to the staging service, notification" ;;
    continuous) echo "a browser journey against staging, then a release that breaks a page: alert, rollback, notification" ;;
  esac
}

# approve_when_waiting RUN STAGE: decides the approval as the demo's admin once it waits (the
# decision is refused until then), as a person would with `dockyard approve RUN STAGE`.
approve_when_waiting() {
  local i
  for i in $(seq 1800); do
    if "$dockyard" approve "$1" "$2" --comment "approved by npm run demo" >/dev/null 2>&1; then
      log "approved $2 of run $1 as the demo's admin: dockyard approve $1 $2"
      return 0
    fi
    sleep 1
  done
}

# Runs each example in turn (the next only when the one before succeeded); sets code.
run_examples() {
  local ex id c
  for ex in $EXAMPLES; do
    if [ "$ex" = continuous ]; then
      run_continuous || {
        code=1
        return
      }
      continue
    fi
    log "running examples/$ex/dockyard.yml ($(describe_example "$ex"))"
    # Submitted first, then watched: the run id is kept for the closing hints.
    if ! id=$("$dockyard" run "examples/$ex/dockyard.yml" 2>"$DEMO/submit.err"); then
      cat "$DEMO/submit.err" >&2
      RESULT[$ex]="was refused"
      code=1
      return
    fi
    RUN_ID[$ex]=$id
    approver=
    if [ "$ex" = webapp ]; then
      approve_when_waiting "$id" gate &
      approver=$!
    fi
    set +e
    "$dockyard" watch "$id"
    c=$?
    set -e
    # Our own background job: done by now, unless the run ended before its approval waited.
    if [ -n "$approver" ]; then
      kill "$approver" 2>/dev/null || true
      wait "$approver" 2>/dev/null || true
    fi
    if [ "$c" -eq 0 ]; then
      RESULT[$ex]=succeeded
      OK[$ex]=1
    else
      RESULT[$ex]="did not succeed (exit $c)"
    fi
    if [ "$c" -ne 0 ]; then
      code=$c
      return
    fi
  done
}

q() { printf '%q' "$1"; }

print_where_to_look() {
  local ex n=0 ok=0 dy stop="npm run demo -- stop"
  dy=$(q "$dockyard")
  if [ -n "${DOCKYARD_DEMO_DIR:-}" ]; then stop="DOCKYARD_DEMO_DIR=$(q "$DEMO") $stop"; fi
  echo
  for ex in $EXAMPLES; do
    n=$((n + 1))
    [ -n "${OK[$ex]:-}" ] && ok=$((ok + 1))
  done
  if [ "$ok" -eq "$n" ] && [ "$n" -eq 1 ]; then
    echo "The example pipeline succeeded:"
  elif [ "$ok" -eq "$n" ] && [ "$n" -eq 2 ]; then
    echo "Both example pipelines succeeded:"
  elif [ "$ok" -eq "$n" ]; then
    echo "All $n example pipelines succeeded:"
  else
    echo "Not every example pipeline succeeded:"
  fi
  for ex in $EXAMPLES; do
    if [ -n "${RUN_ID[$ex]:-}" ]; then
      printf '  %-10s run %s  %s\n' "$ex" "${RUN_ID[$ex]}" "${RESULT[$ex]}"
    else
      printf '  %-10s %s\n' "$ex" "${RESULT[$ex]:-not run}"
    fi
  done
  if [ -n "${OK[webapp]:-}" ]; then print_service; fi
  if [ -n "${RUN_ID[continuous]:-}" ]; then print_alert_loop; fi
  cat <<MSG
The farm keeps running. Where to look (from any directory):
  export DOCKYARD_SERVER=$DOCKYARD_SERVER DOCKYARD_CA_FILE=$(q "$DOCKYARD_CA_FILE") DOCKYARD_TOKEN=\$(cat $(q "$DEMO/api-token"))
  $dy runs                       # recent runs
  web UI http://127.0.0.1:$HTTP_PORT/   (log in with the token in $(q "$DEMO/api-token"))
MSG
  if [ -n "${RUN_ID[hello]:-}" ]; then echo "  $dy logs ${RUN_ID[hello]} report   # one stage's output"; fi
  if [ -n "${RUN_ID[webapp]:-}" ]; then echo "  $dy logs ${RUN_ID[webapp]} sizes    # the two image sizes"; fi
  if [ -n "${RUN_ID[webapp]:-}" ]; then
    cat <<MSG
  $dy services                   # the staging service: replicas per host, addresses, health
  $dy services history staging   # its revisions (each demo run releases one)
  $dy notifications --channel releases   # the release's notification (received: $(q "$DEMO/notifications.log"))
MSG
  fi
  if [ -n "${RUN_ID[continuous]:-}" ]; then
    cat <<MSG
  $dy alerts                     # what Alertmanager sent, and what the server did about it
  $dy schedules ticks shop       # the journey's runs: every minute, every few seconds during an update
  $dy artifacts RUN              # a failed journey's screenshot (RUN: a failed run in the ticks)
  Prometheus http://127.0.0.1:$PROMETHEUS_PORT/alerts · Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT · Pushgateway http://127.0.0.1:$PUSHGATEWAY_PORT
MSG
  fi
  cat <<MSG
  $dy agents                     # the two agents
  $dy envs                       # temporary environments; a run's own end removes them
  curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep ^dockyard_     # Prometheus metrics
  curl -s -H "Authorization: Bearer \$DOCKYARD_TOKEN" http://127.0.0.1:$HTTP_PORT/api/v1/runs
  logs: $DEMO/server.log, $DEMO/agent-a.log, $DEMO/agent-b.log
  stop: $stop   (in $ROOT; stops the farm and the services the demo started)
MSG
}

# The staging service the webapp released: `dockyard services` and a request per address.
print_service() {
  local json addr
  json=$("$dockyard" services --json 2>/dev/null || true)
  echo
  echo "The webapp's release runs as the service 'staging' (examples/webapp/services/staging.yml):"
  "$dockyard" services 2>/dev/null | sed 's/^/  /'
  for addr in $(printf '%s' "$json" | grep -o '"address": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | sort -u); do
    echo "  curl http://$addr/       # the app, through that host's HAProxy: $(curl -fsS --max-time 5 "http://$addr/" 2>&1 | head -n 1)"
  done
  echo
}

# The continuous example (examples/continuous): the shop journey scheduled against staging and run
# once now (it must pass on the good revision), then break.yml, which releases staging with one
# page answering 500. The release itself succeeds host by host; the journey, run every few seconds
# during the update, fails; DockyardJourneyFailing fires; Alertmanager posts it to the server,
# which rolls staging back inside the watch window. The break run therefore fails, with the
# alert as its reason: that is this example succeeding. Returns non-zero when any step did not.
run_continuous() {
  local id c
  log "running examples/continuous ($(describe_example continuous))"
  "$dockyard" schedules rm shop >/dev/null 2>&1 || true
  if ! "$dockyard" schedules add shop --cron "* * * * *" -f examples/continuous/journey.yml >/dev/null; then
    RESULT[continuous]="could not add the schedule shop"
    return 1
  fi
  log "added the schedule shop (examples/continuous/journey.yml): every minute, every few seconds while staging updates"
  id=$("$dockyard" run examples/continuous/journey.yml 2>"$DEMO/submit.err") || {
    cat "$DEMO/submit.err" >&2
    RESULT[continuous]="journey.yml was refused"
    return 1
  }
  if ! "$dockyard" watch "$id"; then
    RESULT[continuous]="the journey failed against the good revision (run $id)"
    return 1
  fi
  log "the journey passed against staging; now releasing examples/continuous/break.yml (/shop/about answers 500, /health passes)"
  id=$("$dockyard" run examples/continuous/break.yml 2>"$DEMO/submit.err") || {
    cat "$DEMO/submit.err" >&2
    RESULT[continuous]="break.yml was refused"
    return 1
  }
  RUN_ID[continuous]=$id
  set +e
  "$dockyard" watch "$id"
  c=$?
  set -e
  # The alert that rolled this very run's update back, as the server recorded it.
  if [ "$c" -ne 0 ] && "$dockyard" alerts --json 2>/dev/null | grep -q "\"runId\": \"$id\""; then
    log "DockyardJourneyFailing rolled staging back; the journey runs twice more on the good revision (2 of its last 3 runs pass: the alert resolves)"
    for _ in 1 2; do
      if ! journey_passes; then
        RESULT[continuous]="rolled back, but the journey did not pass again"
        return 1
      fi
    done
    RESULT[continuous]="caught: DockyardJourneyFailing rolled staging back"
    OK[continuous]=1
    return 0
  fi
  RESULT[continuous]="was not rolled back by the journey's alert (exit $c)"
  return 1
}

# What the continuous example left to see: the alert and staging's history.
print_alert_loop() {
  echo "The continuous example's alert (examples/continuous), as 'dockyard alerts' lists it:"
  "$dockyard" alerts 2>/dev/null | sed 's/^/  /'
  echo "and staging's history ('dockyard services history staging'), newest first:"
  "$dockyard" services history staging 2>/dev/null | head -n 4 | sed 's/^/  /'
  echo
}

# journey_passes: one run of the shop journey, quietly; says which run passed, or shows its log.
journey_passes() {
  local id
  id=$("$dockyard" run examples/continuous/journey.yml 2>"$DEMO/submit.err") || {
    cat "$DEMO/submit.err" >&2
    return 1
  }
  if "$dockyard" watch "$id" >"$DEMO/journey.watch" 2>&1; then
    log "journey run $id passed"
    return 0
  fi
  cat "$DEMO/journey.watch" >&2
  return 1
}
