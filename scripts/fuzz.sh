#!/usr/bin/env bash
# npm run fuzz: the randomized tests (those that use test/helpers/seeds.ts) with fresh seeds for
# TSHK_FUZZ_SECONDS seconds each (default 10), instead of npm test's fixed seeds plus one. Ends
# with the totals. A failure prints its seed and the TSHK_SEED=... command that replays it; add
# that seed to the test's fixed list once the bug is fixed.
#   npm run fuzz                          # about 10 s per randomized test
#   TSHK_FUZZ_SECONDS=120 npm run fuzz    # longer
#   npm run fuzz -- test/wire/fuzz.test.ts  # only these files
set -uo pipefail
cd "$(dirname "$0")/.."
export TSHK_FUZZ_SECONDS="${TSHK_FUZZ_SECONDS:-10}"
unset TSHK_SEED
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(grep -rl --include='*.test.ts' "helpers/seeds.js" test | sort)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One test at a time: each spends its budget on CPU, and the budget is per test.
timeout_s=$(( TSHK_FUZZ_SECONDS * 3 + 120 ))
npx --no-install ava --serial --concurrency=1 --timeout="${timeout_s}s" "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/fuzz-total/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "seeds") s += kv[2]; if (kv[1] == "inputs") n += kv[2] } t++ }
     END { printf "\nfuzz: %d randomized tests, %d seeds, %d inputs (packets, operations), %s s per test\n", t, s, n, ENVIRON["TSHK_FUZZ_SECONDS"] }' "$log"
exit "$status"
