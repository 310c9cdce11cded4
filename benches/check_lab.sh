#!/usr/bin/env bash
# `connscope check` end to end against the healthy lab: process start to exit, every probe
# (database attempts, init, HTTP health on three endpoints, WebSocket, startup log), measured
# with hyperfine. Two variants: one attempt and one health try (the fixed cost of a CI gate),
# and the outage plan's 5 attempts (interval 200 ms here, so waiting does not dominate).
# Usage: benches/check_lab.sh [RUNS=10]   (needs hyperfine; PostgreSQL server binaries if any)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --release --locked -q
bin=target/release/connscope
work=$(mktemp -d)
lab=
cleanup() {
  if [ -n "$lab" ] && kill -0 "$lab" 2>/dev/null; then kill -INT "$lab"; wait "$lab" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" lab --headless --scenario healthy --database auto >"$work/banner" 2>"$work/lab.err" &
lab=$!
for _ in $(seq 900); do grep -q database_url "$work/banner" && break; sleep 0.1; done
grep -q database_url "$work/banner" || { cat "$work/lab.err" >&2; exit 1; }
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/" "$work/banner"; }
echo "lab: database $(field database), $(field database_url)"

# The stand-in service starts through its 7 phases first (about 2 s at the lab's time scale).
for _ in $(seq 600); do
  curl -fs -o /dev/null "$(field backend)/health" && break; sleep 0.1
done

flags="--config assets/lab-scaled.toml check --format json --db-url $(field database_url)"
for name in backend api auth; do flags="$flags --endpoint $name=$(field "$name")"; done
flags="$flags --ws $(field websocket) --startup-log $(field startup_log)"
# A run that does not pass is a broken benchmark, not a slow one.
"$bin" $flags --attempts 1 --tries 1 >"$work/first.json" || { echo "check against the healthy lab did not pass (exit $?):" >&2; cat "$work/first.json" >&2; exit 1; }
hyperfine -N --warmup 2 --runs "$RUNS" \
  -n "check, 1 attempt, 1 health try" "$bin $flags --attempts 1 --tries 1" \
  -n "check, 5 attempts 200 ms apart" "$bin $flags --attempts 5 --interval 200ms --tries 1"
