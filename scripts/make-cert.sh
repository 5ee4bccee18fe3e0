#!/usr/bin/env bash
# Makes a self-signed certificate for trying TLS locally and for the tests:
#   scripts/make-cert.sh DIR [NAME]
# writes DIR/cert.pem and DIR/key.pem (an ECDSA P-256 key, valid 2 days,
# for localhost, 127.0.0.1 and ::1, with NAME as its common name; default
# "chatd test") and DIR/spki.txt, the base64 SHA-256 of its public key (what
# Chromium's --ignore-certificate-errors-spki-list takes).  Needs the
# openssl command (Debian: openssl).  Never commit what it makes.
set -euo pipefail
dir=${1:?usage: make-cert.sh DIR [NAME]}
name=${2:-chatd test}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -days 2 -subj "/CN=$name" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" 2>/dev/null
chmod 600 "$dir/key.pem.tmp"
openssl x509 -in "$dir/cert.pem.tmp" -pubkey -noout |
  openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64 >"$dir/spki.txt"
# Renamed into place, so a server reloading meanwhile sees old or new files.
mv "$dir/key.pem.tmp" "$dir/key.pem"
mv "$dir/cert.pem.tmp" "$dir/cert.pem"
