#!/usr/bin/env bash
# Installs the Debian packages chatd needs that are missing.
#   scripts/deps.sh          what building and running needs
#   scripts/deps.sh test     that, plus what the tests need
#   scripts/deps.sh bench    that, plus what bench/http.sh needs (wrk, nginx)
set -euo pipefail

pkgs=(build-essential cmake pkg-config libuv1-dev node-llhttp libsqlite3-dev
      libsodium-dev libssl-dev libcjson-dev libjs-bootstrap5 curl
      default-libmysqlclient-dev)
pkgs+=(libhiredis-dev)
pkgs+=(libcurl4-openssl-dev)
# Unicode normalisation and confusable skeletons of usernames (core/ident.c).
pkgs+=(libicu-dev)
# Files: types detected from content (libmagic) and image thumbnails (libvips).
pkgs+=(libmagic-dev libvips-dev)
# The configuration file, INI read by libinih (core/config.c).
pkgs+=(libinih-dev)
# systemd's readiness and watchdog notification (net/sdnotify.c).
pkgs+=(libsystemd-dev)
if [ "${1:-}" = bench ]; then
  pkgs+=(wrk nginx)
fi
if [ "${1:-}" = test ]; then
  pkgs+=(redis-server)
  pkgs+=(python3 python3-websockets mariadb-server)
  # Mroonga, the full-text engine of the MySQL store's search (schema/mysql/012);
  # scripts/mariadb-temp.sh loads it into the test servers.
  pkgs+=(mariadb-plugin-mroonga)
  # TLS tests: certificates made at test time (scripts/make-cert.sh).
  pkgs+=(openssl)
  # /metrics checked with promtool; a test through nginx as a reverse proxy.
  pkgs+=(prometheus nginx)
  # Fuzz tests (test/fuzz): clang and libFuzzer's runtime.
  pkgs+=(clang libclang-rt-dev)
  # Browser tests (test/browser): Debian's Chromium with CJK fonts (so screenshots show
  # Chinese as users see it), and Node.js and npm only
  # when none is on PATH already.
  pkgs+=(chromium fonts-noto-cjk fonts-noto-color-emoji)
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
