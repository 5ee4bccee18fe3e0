#!/usr/bin/env bash
# Installs what is missing, builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test (unit and integration)
# through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
build=build-test
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON -DCHAT_FAULT_HOOKS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
# The browser tests' npm packages, as pinned in test/browser/package-lock.json.
if [ ! -d test/browser/node_modules ] ||
   [ test/browser/package-lock.json -nt test/browser/node_modules/.package-lock.json ]; then
  (cd test/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
# A private MariaDB server for the MySQL store tests (unless the caller names
# one in CHAT_TEST_MYSQL_URL), stopped and removed on exit.
if [ -z "${CHAT_TEST_MYSQL_URL:-}" ]; then
  mariadb_temp=$PWD/scripts/mariadb-temp.sh
  mariadb_dir=$(mktemp -d "$PWD/$build/mariadb.XXXXXX")
  trap '"$mariadb_temp" stop "$mariadb_dir" || true; rm -rf "$mariadb_dir"' EXIT
  trap 'exit 130' INT TERM
  CHAT_TEST_MYSQL_URL=$("$mariadb_temp" start "$mariadb_dir")
  export CHAT_TEST_MYSQL_URL
fi
# A private Redis server for the Redis client tests (unless the caller names
# one in CHAT_TEST_REDIS_URL), stopped and removed on exit.  Its cleanup is
# chained in front of the EXIT trap already set (if any), which still runs.
if [ -z "${CHAT_TEST_REDIS_URL:-}" ]; then
  redis_temp=$PWD/scripts/redis-temp.sh
  redis_dir=$(mktemp -d "$PWD/$build/redis.XXXXXX")
  redis_prev_exit=$(trap -p EXIT)
  redis_prev_exit=${redis_prev_exit#trap -- }
  redis_prev_exit=${redis_prev_exit% EXIT}
  eval "redis_prev_exit=${redis_prev_exit:-''}"
  trap '"$redis_temp" stop "$redis_dir" || true; rm -rf "$redis_dir"; '"$redis_prev_exit" EXIT
  trap 'exit 130' INT TERM
  CHAT_TEST_REDIS_URL=$("$redis_temp" start "$redis_dir")
  export CHAT_TEST_REDIS_URL
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j2 "$@"
