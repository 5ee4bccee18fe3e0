#!/usr/bin/env bash
# Builds chatd (Release) and chatbench, runs load scenarios against a fresh chatd
# (temp SQLite database) per scenario and, when Node.js and the node-ws peer's
# node_modules are available, the same scenarios against the node-ws peer with its
# SQLite store. Prints every RESULT line and the chatd/peer ratios.
# Everything started here is stopped on exit.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]
  --with-peers          prepare the node-ws peer if needed: copy it to a temp folder
                        ($CHATBENCH_PEER_DIR, default ${TMPDIR:-/tmp}/chatbench-node-ws)
                        and run `npm ci` there
  --scenarios "LIST"    space-separated CLIENTSxMESSAGES[xROOMS]
                        (default "50x200 200x50 500x10 200x50x4")
  --window W            unacked sends per client (default 8)
  --size BYTES          message text size (default 64)
  --no-build            use the binaries already in build-bench/
  --keep                keep the temp folder (databases, server logs)
  -h, --help            this text
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
PEER_SRC="/work/shared/peers/node-ws"
PEER_DIR="${CHATBENCH_PEER_DIR:-${TMPDIR:-/tmp}/chatbench-node-ws}"
SCENARIOS="50x200 200x50 500x10 200x50x4"
WINDOW=8
SIZE=64
WITH_PEERS=0
BUILD_IT=1
KEEP=0

while [ $# -gt 0 ]; do
  case "$1" in
    --with-peers) WITH_PEERS=1 ;;
    --scenarios) SCENARIOS="${2:?--scenarios needs a value}"; shift ;;
    --window) WINDOW="${2:?--window needs a value}"; shift ;;
    --size) SIZE="${2:?--size needs a value}"; shift ;;
    --no-build) BUILD_IT=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatbench.XXXXXX")"
SERVER_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID"
  SERVER_PID=""
  stop_pid "$pid"
}

cleanup() {
  stop_server || true
  if [ "$KEEP" = 1 ]; then
    echo "run.sh: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One fd per connection, for the servers started from here and for chatbench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- build ----------------------------------------------------------------
TOOL=run.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_build

# ---- the node-ws peer -----------------------------------------------------
bench_node_peer
PEER_JS="$NODE_JS"
if [ -z "$PEER_JS" ]; then
  echo "run.sh: node-ws peer not available (needs node and the peer's node_modules; try --with-peers)"
fi

# ---- servers --------------------------------------------------------------
URL=""
ROOM_IDS=""
ADMIN_PW="chatbench-admin-password"

# start_chatd N ROOMS: fresh database; with ROOMS > 1 an administrator creates the rooms.
start_chatd() {
  local n="$1" rooms="$2" db="$WORK/chatd-$1.db" line
  if [ "$rooms" -gt 1 ]; then
    echo "$ADMIN_PW" | "$CHATD" user add benchadmin --admin --email admin@example.org --db "$db" \
      >"$WORK/chatd-$n.admin.log" 2>&1 ||
      { echo "run.sh: chatd user add failed:" >&2; cat "$WORK/chatd-$n.admin.log" >&2; return 1; }
  fi
  # Every client comes from 127.0.0.1: no flood control, and no limits per
  # address on registrations, logins (all of them arrive at once) and connections.
  "$CHATD" --listen 127.0.0.1:0 --db "$db" --public "$ROOT/public" --ws-rate 0 \
    --register-limit 0 --login-ip-limit 0 --max-conns-ip 0 \
    >"$WORK/chatd-$n.out" 2>"$WORK/chatd-$n.err" &
  SERVER_PID=$!
  line="$(wait_for_line "$WORK/chatd-$n.out" '^chatd listening on http://' "$SERVER_PID")" ||
    { echo "run.sh: chatd did not start:" >&2; tail -n 20 "$WORK/chatd-$n.err" >&2; return 1; }
  URL="${line#chatd listening on }"
  ROOM_IDS="1"
  if [ "$rooms" -gt 1 ]; then
    local jar="$WORK/admin.cookies" i id body
    curl -fsS -c "$jar" -H 'Content-Type: application/json' \
      -d "{\"username\":\"benchadmin\",\"password\":\"$ADMIN_PW\"}" "$URL/api/login" >/dev/null
    for i in $(seq 2 "$rooms"); do
      body="$(curl -fsS -b "$jar" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench-$i\",\"topic\":\"chatbench room $i\"}" "$URL/api/rooms")"
      id="$(printf '%s' "$body" | sed -n 's/.*"id":[[:space:]]*\([0-9][0-9]*\).*/\1/p')"
      [ -n "$id" ] || { echo "run.sh: room creation failed: $body" >&2; return 1; }
      ROOM_IDS="$ROOM_IDS,$id"
    done
  fi
}

# start_peer N ROOMS: the node-ws peer with its SQLite store; any integer is a room there.
start_peer() {
  local n="$1" rooms="$2" port line
  port="$(free_port)"
  node "$PEER_JS" --port "$port" --store "sqlite:$WORK/peer-$n.db" >"$WORK/peer-$n.out" 2>&1 &
  SERVER_PID=$!
  line="$(wait_for_line "$WORK/peer-$n.out" '^node-ws peer on http://' "$SERVER_PID")" ||
    { echo "run.sh: node-ws peer did not start:" >&2; tail -n 20 "$WORK/peer-$n.out" >&2; return 1; }
  URL="http://127.0.0.1:$port"
  ROOM_IDS="$(seq -s, 1 "$rooms")"
}

# ---- scenarios ------------------------------------------------------------
declare -A RESULT
run_one() {
  local label="$1" n="$2" clients="$3" msgs="$4" rooms="$5" out rc=0 timeout
  timeout=$((120 + clients / 4))
  echo
  echo "== $label: $clients clients x $msgs messages, $rooms room(s) (ids $ROOM_IDS), pid $SERVER_PID"
  out="$WORK/bench-$label-$n.txt"
  "$BENCH" --url "$URL" --label "$label" --clients "$clients" --messages "$msgs" \
    --rooms "$rooms" --room-ids "$ROOM_IDS" --window "$WINDOW" --size "$SIZE" \
    --pid "$SERVER_PID" --timeout "$timeout" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "run.sh: chatbench exited with $rc"
  RESULT["$label/$n"]="$(grep '^RESULT ' "$out" || true)"
}

i=0
for sc in $SCENARIOS; do
  IFS=x read -r clients msgs rooms <<<"$sc"
  rooms="${rooms:-1}"
  if ! [[ "$clients" =~ ^[0-9]+$ && "$msgs" =~ ^[0-9]+$ && "$rooms" =~ ^[0-9]+$ ]]; then
    echo "run.sh: bad scenario '$sc' (want CLIENTSxMESSAGES[xROOMS])" >&2
    exit 2
  fi
  i=$((i + 1))
  if start_chatd "$i" "$rooms"; then
    run_one chatd "$i" "$clients" "$msgs" "$rooms"
  fi
  rc=0
  stop_server || rc=$?
  [ "$rc" = 0 ] || echo "run.sh: chatd exited with status $rc (expected 0 after SIGTERM)"
  if [ -n "$PEER_JS" ]; then
    if start_peer "$i" "$rooms"; then
      run_one node-ws "$i" "$clients" "$msgs" "$rooms"
    fi
    stop_server || true
  fi
done

# ---- summary --------------------------------------------------------------
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "na" || b == "na" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "== RESULT lines"
i=0
for sc in $SCENARIOS; do
  i=$((i + 1))
  for label in chatd node-ws; do
    [ -n "${RESULT[$label/$i]:-}" ] && echo "${RESULT[$label/$i]}"
  done
done

if [ -n "$PEER_JS" ]; then
  echo
  echo "== chatd / node-ws (same machine, same run: compare the ratios, not the absolute figures)"
  row() { printf '%-10s | %8s %8s %6s | %9s %9s %6s | %7s %7s %6s | %8s %8s %6s\n' "$@"; }
  row "" "msgs/s" "" "" "p99 ms" "" "" "cpu s" "" "" "rss kB" "" ""
  row scenario chatd node ratio chatd node ratio chatd node ratio chatd node ratio
  i=0
  for sc in $SCENARIOS; do
    i=$((i + 1))
    a="${RESULT[chatd/$i]:-}"
    b="${RESULT[node-ws/$i]:-}"
    cells=()
    for k in msgs_per_s p99_ms server_cpu_s rss_after_kb; do
      x="$(field "$a" "$k")"
      y="$(field "$b" "$k")"
      cells+=("${x:--}" "${y:--}" "$(ratio "$x" "$y")")
    done
    row "$sc" "${cells[@]}"
  done
  echo "ratio = chatd / node-ws: msgs/s above 1 means chatd is faster; p99 latency, server CPU"
  echo "seconds in the send phase and VmRSS after the run below 1 mean chatd needs less."
fi
