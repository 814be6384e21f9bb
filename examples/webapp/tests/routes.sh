#!/bin/sh
# Integration test for the webapp: checks its routes by service name and writes a JUnit XML
# report. Runs in dockyard/busybox:1 (busybox sh + wget) on the environment's network.
#
#   WEB_URL (default http://web:8080)   REPORT (default /reports/junit.xml)
# Exit code: 0 when every case passed, 1 otherwise.
WEB_URL=${WEB_URL:-http://web:8080}
REPORT=${REPORT:-/reports/junit.xml}
mkdir -p "$(dirname "$REPORT")"
cases="" failed=0 total=0 start=$(date +%s)

# Not `wget -T`: Debian's static busybox wget segfaults with it; busybox timeout bounds each call.
WGET="timeout 10 wget -q"

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

# check NAME PATH EXPECTED-SUBSTRING
check() {
  total=$((total + 1))
  body=$($WGET -O - "$WEB_URL$2" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && printf '%s' "$body" | grep -qF -- "$3"; then
    echo "ok   $1"
    cases="$cases<testcase classname=\"webapp.routes\" name=\"$1\"/>"
  else
    failed=$((failed + 1))
    msg=$(printf 'GET %s: wget exit %s, expected %s in: %s' "$2" "$rc" "$3" "$body" | head -c 500 | xml_escape)
    echo "FAIL $1: $msg"
    cases="$cases<testcase classname=\"webapp.routes\" name=\"$1\"><failure message=\"$msg\"/></testcase>"
  fi
}

# check404 NAME PATH: wget must fail with a 404
check404() {
  total=$((total + 1))
  out=$($WGET -S -O /dev/null "$WEB_URL$2" 2>&1)
  if printf '%s' "$out" | grep -q ' 404 '; then
    echo "ok   $1"
    cases="$cases<testcase classname=\"webapp.routes\" name=\"$1\"/>"
  else
    failed=$((failed + 1))
    msg=$(printf 'GET %s: expected 404, got: %s' "$2" "$out" | head -c 500 | xml_escape)
    echo "FAIL $1: $msg"
    cases="$cases<testcase classname=\"webapp.routes\" name=\"$1\"><failure message=\"$msg\"/></testcase>"
  fi
}

check "GET / greets" / "webapp "
check "GET / names the SQLite it is linked with" / "(SQLite 3."
check "GET /health" /health "ok"
check "GET /items has the seeded items" /items '{"id":2,"name":"rope","qty":12}'
check "GET /items names its source" /items '"source":"/data/items.sql"'
check404 "GET /nope is 404" /nope

secs=$(( $(date +%s) - start ))
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="%s" failures="%s"><testsuite name="webapp.routes" tests="%s" failures="%s" errors="0" time="%s">%s</testsuite></testsuites>\n' \
  "$total" "$failed" "$total" "$failed" "$secs" "$cases" > "$REPORT"
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
