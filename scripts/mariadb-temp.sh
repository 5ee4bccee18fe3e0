#!/usr/bin/env bash
# A private MariaDB server for tests, not a system service.
#
#   scripts/mariadb-temp.sh start DIR   initialise DIR (first time), start the
#                                       server, print its URL on stdout:
#                                       mysql://chat:PASS@127.0.0.1:PORT/chat_test
#   scripts/mariadb-temp.sh stop DIR    shut it down (DIR and its data stay)
#
# Everything lives in DIR (mode 0700): data/, the socket mysqld.sock, the
# error log, the pid file and the saved settings.  The server listens on
# 127.0.0.1 on a free port and on the socket.  root connects through the
# socket only (no password; only DIR's owner can reach the socket); the test
# user chat has a random password and all rights on the databases named
# chat_test*, so a test can create a fresh one per run.  A second start on the
# same DIR reuses the data, the port and the password, so the URL stays the
# same across a stop and a start.  Progress goes to stderr.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage

mariadbd=$(command -v mariadbd || true)
[ -n "$mariadbd" ] || mariadbd=/usr/sbin/mariadbd
user_opt=()
[ "$(id -u)" -ne 0 ] || user_opt=(--user=root)

log() { echo "mariadb-temp: $*" >&2; }

# Mroonga (Debian's mariadb-plugin-mroonga), the full-text engine of the
# MySQL store's search (schema/mysql/012_mroonga.sql), loaded when installed.
plugin_opt=()
for d in /usr/lib/mysql/plugin /usr/lib/x86_64-linux-gnu/mariadb19/plugin \
         /usr/lib64/mysql/plugin; do
  if [ -f "$d/ha_mroonga.so" ]; then
    plugin_opt=(--plugin-load-add=ha_mroonga.so)
    break
  fi
done

admin() {
  mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot \
    --connect-timeout=5 "$@"
}

# The pid of the running server of DIR, if any.
server_pid() {
  local pid
  [ -f "$dir/mysqld.pid" ] || return 1
  pid=$(cat "$dir/mysqld.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# 0 if something already listens on 127.0.0.1:$1.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts mariadbd on port $1 and waits (bounded) until it answers.
# Returns 1 if it died or did not answer in time.
launch() {
  local port=$1 pid i
  rm -f "$dir/mysqld.pid"
  "$mariadbd" --no-defaults "${user_opt[@]}" "${plugin_opt[@]}" \
    --datadir="$dir/data" --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=64M --max-connections=200 \
    </dev/null >>"$dir/mariadbd.out" 2>&1 &
  pid=$!
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      return 1
    fi
    if admin ping >/dev/null 2>&1; then
      echo "$pid" >"$dir/mariadbd.pid"
      return 0
    fi
    sleep 0.1
  done
  log "no answer after 30 s; stopping it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

start() {
  local port pw fresh=0 tries
  umask 077
  mkdir -p "$dir"
  chmod 700 "$dir"
  dir=$(cd "$dir" && pwd)
  if [ ${#dir} -gt 90 ]; then
    log "$dir is too long a path for a Unix socket"
    exit 1
  fi
  if server_pid >/dev/null; then
    log "already running (pid $(server_pid))"
    cat "$dir/url"
    return 0
  fi

  if [ ! -d "$dir/data/mysql" ]; then
    fresh=1
    rm -rf "$dir/data"
    log "initialising $dir/data"
    if ! mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db \
      >"$dir/install.log" 2>&1; then
      log "mariadb-install-db failed:"
      cat "$dir/install.log" >&2
      exit 1
    fi
  fi

  if [ "$fresh" = 1 ] || [ ! -f "$dir/port" ]; then
    # A random free port; if another process takes it first, try another.
    for tries in $(seq 1 10); do
      port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
      port_busy "$port" && continue
      log "starting on port $port"
      : >"$dir/error.log"
      if launch "$port"; then
        echo "$port" >"$dir/port"
        break
      fi
      port=
      grep -q -i "bind" "$dir/error.log" 2>/dev/null || break
    done
  else
    port=$(cat "$dir/port")
    log "restarting on port $port"
    launch "$port" || port=
  fi
  if [ -z "${port:-}" ]; then
    log "the server did not start; end of $dir/error.log:"
    tail -n 20 "$dir/error.log" >&2 || true
    exit 1
  fi

  if [ "$fresh" = 1 ] || [ ! -f "$dir/url" ]; then
    pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # The password also holds ':', '@' and '/', which the URL carries
    # percent-encoded: every run exercises the decoding.
    pw="chat:p@ss/$pw"
    mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot --batch <<SQL
CREATE DATABASE IF NOT EXISTS chat_test
  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'chat'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'chat'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`chat\\_test%\`.* TO 'chat'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`chat\\_test%\`.* TO 'chat'@'localhost';
SQL
    pw=${pw//%/%25}
    pw=${pw//:/%3A}
    pw=${pw//@/%40}
    pw=${pw//\//%2F}
    echo "mysql://chat:$pw@127.0.0.1:$port/chat_test" >"$dir/url"
    echo "$dir/mysqld.sock" >"$dir/socket"
  fi
  log "ready (socket $dir/mysqld.sock)"
  cat "$dir/url"
}

stop() {
  local pid i
  [ -d "$dir" ] || return 0
  pid=$(server_pid || cat "$dir/mariadbd.pid" 2>/dev/null || true)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    log "not running"
    return 0
  fi
  timeout 30 mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot \
    --connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after 30 s; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/mysqld.pid" "$dir/mariadbd.pid"
  log "stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
