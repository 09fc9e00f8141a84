#!/usr/bin/env bash
# Side-by-side CPU per value of linewatch's collector and Telegraf's
# inputs.opcua on the same workload: the same `linewatch simulate` process
# (N synthetic tags, security None, anonymous), polled every second, written
# to the same InfluxDB 1.8.10, each client in its own process.
#
# Telegraf is built from its Go module (proxy.golang.org) with only the
# plugins needed; its code is not part of linewatch.
#
# Usage: scripts/bench-telegraf.sh
# Environment:
#   TELEGRAF_BIN      use this Telegraf binary instead of building one
#   TELEGRAF_VERSION  module version to build (default v1.37.0)
#   TAGS              comma-separated tag counts (default 1000; Telegraf reads
#                     all nodes in one Read, so it runs only up to MAX_PER_READ)
#   MAX_PER_READ      simulator MaxNodesPerRead (default 1000)
#   DURATION RUNS     measured window and runs per client (default 30s, 3; the
#                     best run is reported because other load only adds CPU)
#   PROCS             GOMAXPROCS of the two measured clients only (default: Go's)
#   WORK              work directory (default a new /tmp/bench-telegraf.*)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
version=${TELEGRAF_VERSION:-v1.37.0}
tags=${TAGS:-1000}
max_per_read=${MAX_PER_READ:-1000}
duration=${DURATION:-30s}
runs=${RUNS:-3}
work=${WORK:-$(mktemp -d /tmp/bench-telegraf.XXXXXX)}
mkdir -p "$work"

telegraf=${TELEGRAF_BIN:-}
if [ -z "$telegraf" ]; then
	telegraf=$work/telegraf
	if [ ! -x "$telegraf" ]; then
		echo "building Telegraf $version (inputs.opcua, outputs.influxdb, outputs.discard) ..." >&2
		# Outside any module, so linewatch's go.mod is not touched.
		dir=$(cd "$work" && GO111MODULE=on GOFLAGS= go mod download -json "github.com/influxdata/telegraf@$version" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		if [ -z "$dir" ] || [ ! -d "$dir" ]; then
			echo "go mod download github.com/influxdata/telegraf@$version failed" >&2
			exit 1
		fi
		rm -rf "$work/telegraf-src"
		cp -r "$dir" "$work/telegraf-src"
		chmod -R u+w "$work/telegraf-src"
		(cd "$work/telegraf-src" && GOFLAGS= go build -tags "custom,inputs.opcua,outputs.influxdb,outputs.discard" \
			-o "$telegraf" ./cmd/telegraf)
	fi
fi

echo "building linewatch and collectorbench ..." >&2
(cd "$repo" && go build -o "$work/linewatch" ./cmd/linewatch && go build -o "$work/collectorbench" ./internal/cmd/collectorbench)

echo "machine load: $(uptime)" >&2
"$work/collectorbench" -lw "$work/linewatch" -tags "$tags" -max-nodes-per-read "$max_per_read" \
	-duration "$duration" -runs "$runs" -gomaxprocs "${PROCS:-0}" -telegraf "$telegraf" -dir "$work/run"
echo "machine load: $(uptime)" >&2
