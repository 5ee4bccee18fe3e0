#!/usr/bin/env bash
# Installs what is missing, builds chatd and runs it on http://localhost:8080
# with the embedded SQLite store (./data/chat.db).  Extra arguments go to
# chatd, e.g. scripts/run.sh --listen 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target chatd
exec ./build/chatd --listen "${CHAT_LISTEN:-127.0.0.1:8080}" --public ./public "$@"
