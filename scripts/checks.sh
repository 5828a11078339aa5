#!/usr/bin/env bash
# The checks CI runs before the tests, at once: type-check, lint, format and layering checks, and the build (then
# the package checks, which need it). Each is one process, mostly on one core (tsc, eslint, prettier; the build's
# .d.ts is tsc again), so on a machine of a few cores together they take about as long as the slowest.
# Each writes its own log, shown when it fails.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
names=(typecheck lint format:check check:layers build)
pids=()
for name in "${names[@]}"; do
  npm run -s "$name" >"$logs/${name/:/-}.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!names[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "checks: ${names[$i]} failed:" >&2
    cat "$logs/${names[$i]/:/-}.log" >&2
  fi
done
[ "$failed" = 0 ] && npm run -s check:exports
