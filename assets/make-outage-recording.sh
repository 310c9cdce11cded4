#!/usr/bin/env bash
# Regenerates assets/outage.jsonl: a real recording of the outage's signature, made by an
# ordinary `connscope check --record` against the lab's startup-timeout scenario.
#
#   assets/make-outage-recording.sh                 # builds the release binary first
#   assets/make-outage-recording.sh path/to/connscope
#
# The lab runs headless on loopback (real PostgreSQL when installed, else the simulated one) at
# time scale 0.1, so connscope is given the staging profile scaled the same way
# (assets/lab-scaled.toml: connection 3.5 s, initialization 7.5 s, health check 2 s, phase 3
# budget 9 s — what the lab's own dashboard uses). The check starts once the stand-in
# service has failed phase 3 and exited with code 3 twice (the restart loop), and runs the
# outage plan's 5 attempts 2 s apart and 3 health tries per endpoint. It exits 2 (fail): that is
# the point. Takes about a minute. `cargo test lab_check::sample` checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/connscope"
fi
out=assets/outage.jsonl
work=$(mktemp -d)
lab=
cleanup() {
  if [ -n "$lab" ] && kill -0 "$lab" 2>/dev/null; then
    kill -INT "$lab" 2>/dev/null || true
    wait "$lab" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" lab --headless --scenario startup-timeout --database auto >"$work/banner" 2>"$work/lab.err" &
lab=$!

field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/" "$work/banner"; }
wait_for() { # seconds, command…
  local limit=$1; shift
  for _ in $(seq $((limit * 10))); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${limit}s waiting for: $*" >&2
  cat "$work/lab.err" >&2
  return 1
}
wait_for 90 grep -q database_url "$work/banner"
log=$(field startup_log)
exits() { [ "$(grep -c '"event":"exit","code":3' "$log" 2>/dev/null)" -ge 2 ]; }
wait_for 60 exits

endpoint_flags=()
for name in backend api auth; do
  url=$(sed -E "s/.*\"$name\":\"([^\"]*)\".*/\\1/" "$work/banner")
  endpoint_flags+=(--endpoint "$name=$url")
done

code=0
"$bin" --config assets/lab-scaled.toml check --format text --record "$out" \
  --db-url "$(field database_url)" "${endpoint_flags[@]}" --ws "$(field websocket)" \
  --startup-log "$log" --attempts 5 --interval 2s --tries 3 --tries-interval 1s || code=$?
if [ "$code" -ne 2 ]; then
  echo "expected check to fail with exit 2, got $code" >&2
  exit 1
fi
echo "wrote $out ($(wc -c <"$out") bytes, $(wc -l <"$out") lines)"
