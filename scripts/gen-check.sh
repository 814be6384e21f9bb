#!/usr/bin/env bash
# Fails when committed generated code (protobuf, migrations, JSON Schema, Grafana dashboards) is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd proto && pnpm exec buf generate --template '{"version":"v2","plugins":[{"local":"protoc-gen-es","out":"'"$tmp"'/gen","opt":"target=ts","include_imports":true}]}')
if ! diff -r proto/src/gen "$tmp/gen" >/dev/null; then
  echo "proto/src/gen is stale: run 'npm run gen' and commit the result" >&2
  diff -r proto/src/gen "$tmp/gen" | head -20 >&2
  exit 1
fi
# The Grafana dashboards' JSON and provisioning files, written from ops/grafana/dashboards/*.ts.
node --import tsx ops/grafana/build-dashboards.ts "$tmp/grafana" >/dev/null
for dir in dashboards provisioning; do
  if ! diff -r -x '*.ts' "ops/grafana/$dir" "$tmp/grafana/$dir" >/dev/null; then
    echo "ops/grafana/$dir is stale: run 'node --import tsx ops/grafana/build-dashboards.ts' and commit the result" >&2
    diff -r -x '*.ts' "ops/grafana/$dir" "$tmp/grafana/$dir" | head -20 >&2
    exit 1
  fi
done
if ! (cd control-plane && pnpm exec drizzle-kit check >/dev/null 2>&1); then
  echo "migrations are inconsistent: run 'npm run db:generate'" >&2
  exit 1
fi
out=$(cd control-plane && pnpm exec drizzle-kit generate --name check 2>&1 || true)
if ! echo "$out" | grep -q "No schema changes"; then
  git checkout -- migrations 2>/dev/null; git clean -fdq migrations 2>/dev/null
  echo "control-plane/src/store/schema.ts changed without a migration: run 'npm run db:generate'" >&2
  exit 1
fi
