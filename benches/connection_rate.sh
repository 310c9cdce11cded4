#!/usr/bin/env bash
# Connection rate: connscope's capacity test opening N connections (--hold 0s --force) against a
# local temporary cluster, side by side with `pgbench -C` opening the same number in the same run.
# The server forks a backend per connection; that fork rate is the physical limit for both.
# Each client's own CPU time (user + system) is printed beside its wall time: what is left of
# the wall time is the client waiting on the server. A round counts only if both clients
# connected all N times (connscope: every connection succeeded and exit 0; pgbench: exit 0 and
# N of N transactions); otherwise the script stops with exit 1 and says which.
# Usage: benches/connection_rate.sh [N=400, a multiple of 16] [ROUNDS=7]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-400}
ROUNDS=${2:-7}
if [ $((N % 16)) != 0 ]; then echo "N must be a multiple of 16 (pgbench's 16 clients), got $N" >&2; exit 64; fi
PGBIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cargo build --release --locked -q
D=$(mktemp -d); [ "$(id -u)" = 0 ] && chown postgres:postgres "$D"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$D/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w -o "-c listen_addresses=127.0.0.1 -p $PORT -c max_connections=$((N + 20)) -c unix_socket_directories=$D -c fsync=off" start >/dev/null
URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
echo 'SELECT 1;' > "$D/select1.sql"

now() { date +%s.%N; }
cpu() { awk '{printf "%.2f", $1 + $2}' "$1"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
run_connscope() {
  local t0 code=0; t0=$(now)
  /usr/bin/time -f '%U %S' -o "$D/cs.cpu" ./target/release/connscope check --db-url "$URL" --only capacity \
    --capacity "$N" --hold 0s --force --format json > "$D/cs.json" || code=$?
  cs_s=$(echo "$(now) - $t0" | bc)
  cs_ok=$(python3 -c "import json; c=json.load(open('$D/cs.json'))['capacity']; print(c['succeeded'], 'of', c['attempted'], 'connected')") \
    || fail "connscope wrote no capacity result (exit $code)"
  [ "$code" = 0 ] && [ "$cs_ok" = "$N of $N connected" ] || fail "connscope: $cs_ok, exit $code (want $N of $N, exit 0)"
}
run_pgbench() {
  local t0 code=0; t0=$(now)
  /usr/bin/time -f '%U %S' -o "$D/pgb.cpu" pgbench -h 127.0.0.1 -p "$PORT" -U postgres -n -C -c 16 -j 2 \
    -t $((N / 16)) -f "$D/select1.sql" postgres > "$D/pgb.txt" 2>&1 || code=$?
  pg_s=$(echo "$(now) - $t0" | bc)
  pg_ok=$(grep -E 'number of transactions actually processed' "$D/pgb.txt" | sed 's/.*: //' || true)
  [ "$code" = 0 ] && [ "$pg_ok" = "$N/$N" ] || fail "pgbench: ${pg_ok:-nothing processed}, exit $code (want $N/$N, exit 0): $(tail -3 "$D/pgb.txt")"
}
# A warm-up round (the first connections after a cold start pay for the server's caches),
# then rounds in alternating order, so neither always follows the other's exiting backends.
run_connscope; run_pgbench
: > "$D/times"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run_connscope; run_pgbench; else run_pgbench; run_connscope; fi
  echo "$cs_s $pg_s" >> "$D/times"
  printf 'round %d: connscope %.3f s, %s s CPU (%s) | pgbench -C %.3f s, %s s CPU (%s)\n' \
    "$r" "$cs_s" "$(cpu "$D/cs.cpu")" "$cs_ok" "$pg_s" "$(cpu "$D/pgb.cpu")" "$pg_ok"
done
python3 - "$D/times" "$N" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
n = int(sys.argv[2])
cs, pg = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
wins = sum(r[0] <= r[1] for r in rows)
print(f"median: connscope {cs:.3f} s ({n / cs:.0f} conn/s) | pgbench -C {pg:.3f} s ({n / pg:.0f} conn/s); "
      f"connscope at or under pgbench in {wins} of {len(rows)} rounds")
PY
