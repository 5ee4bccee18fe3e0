#!/usr/bin/env bash
# A private Redis server for tests, not a system service.
#
#   scripts/redis-temp.sh start DIR   start redis-server on a free port of
#                                     127.0.0.1, wait until it answers PING,
#                                     print its URL on stdout:
#                                     redis://127.0.0.1:PORT/0
#   scripts/redis-temp.sh stop DIR    shut it down
#
# DIR (mode 0700) holds the pid file redis-server.pid, the port, the URL and
# the server's log.  Nothing is persisted (--save '' --appendonly no).  A
# start while the server of DIR runs prints the same URL again.  Progress
# goes to stderr.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage

log() { echo "redis-temp: $*" >&2; }

# 0 if pid $1 is a live process (a zombie counts as gone).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo "?")
  [ "$state" != Z ]
}

# The pid of the running server of DIR, if any.
server_pid() {
  local pid
  [ -f "$dir/redis-server.pid" ] || return 1
  pid=$(cat "$dir/redis-server.pid" 2>/dev/null || true)
  [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

# 0 if something already listens on 127.0.0.1:$1.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# 0 if the server on port $1 answers PING with +PONG.
ping() {
  local reply
  reply=$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' _ "$1" 2>/dev/null) || return 1
  [ "${reply%$'\r'}" = "+PONG" ]
}

# Starts redis-server on port $1 and waits (bounded) until it answers.
# Returns 1 if it died or did not answer in time.
launch() {
  local port=$1 pid i
  rm -f "$dir/redis-server.pid"
  "$redis" --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --save '' --appendonly no --daemonize no \
    </dev/null >>"$dir/redis.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/redis-server.pid"
  for i in $(seq 1 100); do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      rm -f "$dir/redis-server.pid"
      return 1
    fi
    if ping "$port"; then
      return 0
    fi
    sleep 0.1
  done
  log "no answer after 10 s; stopping it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/redis-server.pid"
  return 1
}

start() {
  local port tries
  redis=$(command -v redis-server || true)
  [ -n "$redis" ] || redis=/usr/bin/redis-server
  if [ ! -x "$redis" ]; then
    log "redis-server not found (Debian package redis-server)"
    exit 1
  fi
  umask 077
  mkdir -p "$dir"
  chmod 700 "$dir"
  dir=$(cd "$dir" && pwd)
  if server_pid >/dev/null && [ -f "$dir/url" ]; then
    log "already running (pid $(server_pid))"
    cat "$dir/url"
    return 0
  fi
  port=
  # A random free port; if another process takes it first, try another.
  for tries in $(seq 1 10); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if port_busy "$port"; then
      port=
      continue
    fi
    log "starting on port $port"
    : >"$dir/redis.log"
    launch "$port" && break
    port=
    grep -q -i "address already in use" "$dir/redis.log" 2>/dev/null || break
  done
  if [ -z "$port" ]; then
    log "the server did not start; end of $dir/redis.log:"
    tail -n 20 "$dir/redis.log" >&2 || true
    exit 1
  fi
  echo "$port" >"$dir/port"
  echo "redis://127.0.0.1:$port/0" >"$dir/url"
  log "ready (pid $(cat "$dir/redis-server.pid"))"
  cat "$dir/url"
}

stop() {
  local pid i
  [ -d "$dir" ] || return 0
  pid=$(server_pid || true)
  if [ -z "$pid" ]; then
    log "not running"
    rm -f "$dir/redis-server.pid"
    return 0
  fi
  # SIGTERM: redis-server shuts down cleanly (nothing to save).
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "still running after 10 s; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/redis-server.pid"
  log "stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
