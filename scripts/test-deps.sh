#!/usr/bin/env bash
# Installs what the tests need beyond Go, on a fresh machine:
#  - InfluxDB 1.8.10, built with `go install` into the cache (~90 s once);
#  - chromium (operator console browser test) and poppler-utils (pdftoppm,
#    pdftotext for the PDF report test) from Debian packages when running as
#    root with apt; otherwise those tests skip with a loud message.
set -euo pipefail
cd "$(dirname "$0")/.."

go run ./internal/influxd/cmd/influxd-install

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test-deps: WARNING: ${missing[*]} not installed and cannot apt-get here; the tests that need them will skip" >&2
  fi
fi
