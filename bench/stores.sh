#!/usr/bin/env bash
# Compares message throughput of one chatd on its production setup (MySQL +
# Redis) with the embedded SQLite store, in one run on one machine: private
# MariaDB and Redis servers on loopback, a fresh chatd and database per run,
# the same chatbench scenario against each.  Prints the RESULT lines and the
# ratio.  Usage: bench/stores.sh [CLIENTSxMESSAGES] [ROUNDS]
# (CHAT_BENCH_MORE=1 also runs MySQL without Redis and SQLite with Redis.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
SCENARIO="${1:-50x200}"
ROUNDS="${2:-3}"
CLIENTS="${SCENARIO%x*}"
MESSAGES="${SCENARIO#*x}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatstores.XXXXXX")"
PID=""

cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  "$ROOT/scripts/redis-temp.sh" stop "$WORK/redis" >/dev/null 2>&1 || true
  "$ROOT/scripts/mariadb-temp.sh" stop "$WORK/mariadb" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF \
  -DCHAT_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target chatd chatbench >/dev/null

REDIS_URL="$("$ROOT/scripts/redis-temp.sh" start "$WORK/redis")"
MYSQL_URL="$("$ROOT/scripts/mariadb-temp.sh" start "$WORK/mariadb")"

# run LABEL STORE_URL [REDIS_URL]: one fresh chatd, one chatbench run.
run() {
  local label="$1" store="$2" redis="${3:-}" out="$WORK/$1.out"
  local args=(--listen 127.0.0.1:0 --store "$store" --public "$ROOT/public" --ws-rate 0
              --register-limit 0 --login-ip-limit 0 --max-conns-ip 0)
  [ -n "$redis" ] && args+=(--redis "$redis")
  "$BUILD/chatd" "${args[@]}" >"$out" 2>"$WORK/$label.err" &
  PID=$!
  local url=""
  for _ in $(seq 1 200); do
    url="$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null || true)"
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "chatd did not start:" >&2; cat "$WORK/$label.err" >&2; exit 1; }
  "$BUILD/chatbench" --url "$url" --clients "$CLIENTS" --messages "$MESSAGES" \
    --pid "$PID" --label "$label" | grep '^RESULT'
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}

mysql_db() {  # a fresh database on the private server for each run
  local name="chat_test_bench_$1"
  mariadb --no-defaults --socket="$WORK/mariadb/mysqld.sock" -uroot \
    -e "CREATE DATABASE $name CHARACTER SET utf8mb4"
  echo "${MYSQL_URL%/*}/$name"
}

for round in $(seq 1 "$ROUNDS"); do
  run "sqlite" "sqlite:$WORK/sqlite-$round.db"
  run "mysql+redis" "$(mysql_db "$round")" "${REDIS_URL%/*}/$round"
  if [ -n "${CHAT_BENCH_MORE:-}" ]; then  # each part alone, to see where time goes
    run "mysql" "$(mysql_db "x$round")"
    run "sqlite+redis" "sqlite:$WORK/sqlite-r$round.db" "${REDIS_URL%/*}/1$round"
  fi
done | tee "$WORK/results"

awk '
  /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
              s[f["server"]] += f["msgs_per_s"]; c[f["server"]]++ }
  END { a = s["sqlite"] / c["sqlite"]; b = s["mysql+redis"] / c["mysql+redis"];
        printf "mean msgs/s: sqlite %.0f, mysql+redis %.0f; sqlite/mysql+redis = %.2f\n", a, b, a / b }
' "$WORK/results"
