#!/usr/bin/env bash
# Static files and GET /api/rooms: chatd against nginx serving the same bytes
# (wrk, keep-alive, 50 connections; each server pinned to core 0, wrk to
# core 1). Prints requests/s of every run and the ratios chatd / nginx.
# Needs wrk and nginx (scripts/deps.sh bench).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bench/http.sh [--no-build] [--seconds S] [--rounds N] [--rooms R] [--keep]
  --no-build     use the binaries already in build-bench/
  --seconds S    seconds per wrk run (default 5)
  --rounds N     chatd and nginx alternate N times (default 3)
  --rooms R      rooms in the list (default 10)
USAGE
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
BUILD_IT=1 SECONDS_RUN=5 ROUNDS=3 ROOMS=10 KEEP=0 WITH_PEERS=0
PEER_SRC="" PEER_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD_IT=0 ;;
    --seconds) SECONDS_RUN="${2:?}"; shift ;;
    --rounds) ROUNDS="${2:?}"; shift ;;
    --rooms) ROOMS="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "http.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for t in wrk nginx; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] ||
    { echo "http.sh: $t is not installed (scripts/deps.sh bench)" >&2; exit 1; }
done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chathttp.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "http.sh: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TOOL=http.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_build

# chatd with one provisioned session and ROOMS rooms.
DB="$WORK/chat.db"
echo "http-bench-password" | "$CHATD" user bulk --prefix hb --count 1 --sessions "$WORK/sessions" \
  --db "$DB" >/dev/null
[ "$ROOMS" -gt 1 ] && "$CHATD" room bulk --prefix room --count $((ROOMS - 1)) --db "$DB" >/dev/null 2>&1
TOKEN="$(awk 'NR == 1 {print $2}' "$WORK/sessions")"
CPORT="$(free_port)"
taskset -c 0 "$CHATD" --listen "127.0.0.1:$CPORT" --db "$DB" --public "$ROOT/public" \
  --max-conns-ip 0 >"$WORK/chatd.out" 2>"$WORK/chatd.err" &
PIDS+=($!)
wait_for_line "$WORK/chatd.out" '^chatd listening' "${PIDS[-1]}" >/dev/null ||
  { echo "http.sh: chatd did not start:" >&2; tail -n 20 "$WORK/chatd.err" >&2; exit 1; }

# nginx serving the same bytes: the front page, and the room list as a file.
mkdir -p "$WORK/www"
chmod 755 "$WORK" "$WORK/www"   # nginx's workers run as another user
cp "$ROOT/public/index.html" "$WORK/www/index.html"
curl -fsS -H "Cookie: sid=$TOKEN" "http://127.0.0.1:$CPORT/api/rooms" >"$WORK/www/rooms.json"
chmod 644 "$WORK/www/index.html" "$WORK/www/rooms.json"
NPORT="$(free_port)"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  include /etc/nginx/mime.types;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=100;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp;
  fastcgi_temp_path $WORK/nginx-tmp;
  uwsgi_temp_path $WORK/nginx-tmp;
  scgi_temp_path $WORK/nginx-tmp;
  server { listen 127.0.0.1:$NPORT; root $WORK/www; }
}
CONF
mkdir -p "$WORK/nginx-tmp"
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" >"$WORK/nginx.out" 2>&1 &
PIDS+=($!)
sleep 0.5
for u in "http://127.0.0.1:$NPORT/index.html" "http://127.0.0.1:$NPORT/rooms.json"; do
  curl -fsS -o /dev/null "$u" || { echo "http.sh: nginx does not answer $u" >&2; exit 1; }
done
echo "files: index.html $(wc -c <"$WORK/www/index.html") bytes, /api/rooms $(wc -c <"$WORK/www/rooms.json") bytes ($ROOMS rooms)"

rps() {  # rps URL [header]
  local out
  if [ $# -gt 1 ]; then
    out="$(taskset -c 1 wrk -t1 -c50 -d"${SECONDS_RUN}s" -H "$2" "$1")"
  else
    out="$(taskset -c 1 wrk -t1 -c50 -d"${SECONDS_RUN}s" "$1")"
  fi
  if printf '%s\n' "$out" | grep -q 'Non-2xx'; then
    echo "http.sh: non-2xx answers from $1" >&2
  fi
  printf '%s\n' "$out" | awk '/^Requests\/sec/ {printf "%d", $2}'
}

declare -a CS NS CR NR
for r in $(seq 1 "$ROUNDS"); do
  CS+=("$(rps "http://127.0.0.1:$CPORT/index.html")")
  NS+=("$(rps "http://127.0.0.1:$NPORT/index.html")")
  CR+=("$(rps "http://127.0.0.1:$CPORT/api/rooms" "Cookie: sid=$TOKEN")")
  NR+=("$(rps "http://127.0.0.1:$NPORT/rooms.json")")
  echo "round $r: index.html chatd ${CS[-1]} nginx ${NS[-1]} req/s; /api/rooms chatd ${CR[-1]}, nginx (same bytes as a file) ${NR[-1]} req/s"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
sum() { local t=0 x; for x in "$@"; do t=$((t + x)); done; echo "$t"; }
echo "RATIOS chatd / nginx (sums of the rounds): index.html $(ratio "$(sum "${CS[@]}")" "$(sum "${NS[@]}")"), /api/rooms $(ratio "$(sum "${CR[@]}")" "$(sum "${NR[@]}")")"
