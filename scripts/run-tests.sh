#!/usr/bin/env bash
# Runs ava and ends with one plain line, "tests: N passed, N failed, N skipped", that any
# reader of the log (CI included) understands; the exit status is ava's own.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
npx --no-install ava "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
count() { grep -oE "^\s*[0-9]+ $1" "$log" | grep -oE '[0-9]+' | tail -1; }
passed=$(count 'tests? passed')
if [ -z "$passed" ]; then
  # With failures ava prints no "passed" total: count its ticks, less the expected failures.
  passed=$(( $(grep -cE '^\s+✔ ' "$log") - $(grep -cE '^\s+✔ \[expected fail\]' "$log") ))
fi
failed=$(count 'tests? failed')
known=$(count 'known failures?')
skipped=$(count 'tests? skipped')
printf '\ntests: %s passed, %s failed, %s skipped\n' "${passed:-0}" "$(( ${failed:-0} ))" "$(( ${skipped:-0} ))"
[ -n "${known:-}" ] && printf '(%s known failures, expected)\n' "$known"
exit "$status"
