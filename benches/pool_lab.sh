#!/usr/bin/env bash
# The pool probe in the lab's scenarios: what the service's pool feels (acquire waits,
# timeouts) and what lies beneath it, ROUNDS `check --only pool` runs per scenario against
# `connscope lab --headless` with the lab's scaled staging profile (acquire timeout 4.5 s,
# a 3 s run). db-capacity runs with --force: without it the headroom rule opens nothing on a
# full server (that refusal is the result). The waits are the lab's faults, not connscope's
# CPU, so the debug build is used. Prints each round and the median of the rounds.
# Usage: benches/pool_lab.sh [ROUNDS=5]   (needs python3; PostgreSQL server binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
cargo build --locked -q
bin=target/debug/connscope
work=$(mktemp -d)
lab=
stop_lab() {
  if [ -n "$lab" ] && kill -0 "$lab" 2>/dev/null; then kill -TERM "$lab"; wait "$lab" || true; fi
  lab=
}
trap 'stop_lab; rm -rf "$work"' EXIT

for scenario in healthy connector-saturation db-capacity; do
  force=; [ "$scenario" = db-capacity ] && force=--force
  "$bin" lab --headless --scenario "$scenario" --database postgres >"$work/banner" 2>"$work/lab.err" &
  lab=$!
  for _ in $(seq 900); do grep -q database_url "$work/banner" && break; sleep 0.1; done
  grep -q database_url "$work/banner" || { cat "$work/lab.err" >&2; exit 1; }
  url=$(sed -E 's/.*"database_url":"([^"]*)".*/\1/' "$work/banner")
  for r in $(seq "$ROUNDS"); do
    # Exit 1 / 2 are the scenario's verdict; only a run without a pool result is broken.
    "$bin" --config assets/lab-scaled.toml check --db-url "$url" --only pool $force \
      --attempts 1 --interval 500ms --format json >"$work/$scenario.$r.json" 2>/dev/null || true
  done
  stop_lab
  python3 - "$scenario" "$work" "$ROUNDS" <<'PY'
import json, statistics, sys
scenario, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = []
for r in range(1, rounds + 1):
    v = json.load(open(f"{work}/{scenario}.{r}.json"))
    p = v.get("pool") or sys.exit(f"{scenario} round {r}: no pool result")
    rows.append(p)
    print(f"{scenario:21} {v['verdict']:4} {p['acquisitions']:5} acquired {p['timeouts']:3} timeouts "
          f"waits p50 {p['wait_p50_ms'] or 0:8.2f} p95 {p['wait_p95_ms'] or 0:8.2f} max {p['wait_max_ms'] or 0:8.1f} ms"
          f" | {p['max_connections']} conns | beneath: {p['beneath']['text']}")
med = lambda k: statistics.median((p[k] or 0) for p in rows)
print(f"{scenario:21} median of {rounds}: {med('acquisitions'):.0f} acquired, {med('timeouts'):.0f} timeouts, "
      f"waits p50 {med('wait_p50_ms'):.2f} ms, p95 {med('wait_p95_ms'):.2f} ms, max {med('wait_max_ms'):.1f} ms")
PY
done
