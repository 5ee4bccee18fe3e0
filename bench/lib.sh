# Shared by bench/run.sh and bench/table.sh (sourced, not run).  The caller
# sets ROOT, BUILD, WORK, BUILD_IT, WITH_PEERS, PEER_SRC, PEER_DIR and TOOL
# (its name, for messages).

# Builds chatd and chatbench (Release) into $BUILD unless BUILD_IT is 0,
# trying three times 20 s apart (the sources may be mid-edit), and sets
# CHATD and BENCH.  Exits on failure.
bench_build() {
  if [ "$BUILD_IT" = 1 ]; then
    local built=0 attempt
    for attempt in 1 2 3; do
      if cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF \
           -DCHAT_BUILD_BENCH=ON >"$WORK/cmake.log" 2>&1 &&
         cmake --build "$BUILD" -j"$(nproc)" --target chatd chatbench \
           ${BENCH_EXTRA_TARGETS:-} >>"$WORK/cmake.log" 2>&1; then
        built=1
        break
      fi
      echo "$TOOL: build attempt $attempt failed (sources may be mid-edit):" >&2
      tail -n 15 "$WORK/cmake.log" >&2
      [ "$attempt" = 3 ] || sleep 20
    done
    [ "$built" = 1 ] || { echo "$TOOL: build failed" >&2; exit 1; }
  fi
  CHATD="$BUILD/chatd"
  BENCH="$BUILD/chatbench"
  local b
  for b in "$CHATD" "$BENCH"; do
    [ -x "$b" ] || { echo "$TOOL: missing $b (run without --no-build)" >&2; exit 1; }
  done
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Sets NODE_JS to the node-ws peer's server.js, or "" when it cannot run:
# the shared folder's own node_modules, or (with --with-peers) a writable
# copy in $PEER_DIR where `npm ci` runs, again when package-lock.json
# changes.
bench_node_peer() {
  NODE_JS=""
  command -v node >/dev/null 2>&1 || return 0
  if [ -d "$PEER_SRC/node_modules" ]; then
    NODE_JS="$PEER_SRC/server.js"
    return 0
  fi
  if [ "$WITH_PEERS" = 1 ] && [ -f "$PEER_SRC/server.js" ]; then
    mkdir -p "$PEER_DIR"
    if ! cmp -s "$PEER_SRC/package-lock.json" "$PEER_DIR/package-lock.json"; then
      rm -rf "$PEER_DIR/node_modules"
    fi
    local f
    for f in "$PEER_SRC"/*; do   # the shared folder is read-only: work on a copy
      [ -f "$f" ] && cp -f "$f" "$PEER_DIR/" && chmod u+w "$PEER_DIR/$(basename "$f")"
    done
    if [ ! -d "$PEER_DIR/node_modules" ]; then
      echo "$TOOL: npm ci in $PEER_DIR (compiles better-sqlite3, about a minute)"
      if [ -z "${npm_config_nodedir:-}" ] && [ -d /usr/include/node ]; then
        export npm_config_nodedir=/usr
      fi
      (cd "$PEER_DIR" && npm ci --no-audit --no-fund) >"$WORK/npm.log" 2>&1 ||
        { echo "$TOOL: npm ci failed; node-ws peer skipped:" >&2; tail -n 20 "$WORK/npm.log" >&2
          rm -rf "$PEER_DIR/node_modules"; }
    fi
  fi
  if [ -d "$PEER_DIR/node_modules" ] && [ -f "$PEER_DIR/server.js" ]; then
    NODE_JS="$PEER_DIR/server.js"
  fi
}

# Waits until FILE holds a line matching REGEX, for TRIES tenths of a second
# (default 300), while the process PID lives; prints the line.  1 if it
# never came.
wait_for_line() {
  local file="$1" regex="$2" pid="$3" tries="${4:-300}" line
  for _ in $(seq 1 "$tries"); do
    line="$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)"
    if [ -n "$line" ]; then
      echo "$line"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop_pid PID: SIGTERM, up to 10 s for it to exit, then SIGKILL; returns
# its exit status (a child of this shell).
stop_pid() {
  local pid="$1" rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$TOOL: server $pid still running 10 s after SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return $rc
}
