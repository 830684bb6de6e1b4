#!/usr/bin/env bash
# make bench: generate 1M events (and a smaller set for the many-small-ingests comparison) and
# measure ingest and queries against baselines measured in the same run. Prints Markdown; copy
# the figures into BENCHMARKS.md.
set -euo pipefail
events=${BENCH_EVENTS:-1000000}
small=${BENCH_SMALL_EVENTS:-100000}
dir=${BENCH_DIR:-bench-data}
mkdir -p "$dir"
[ -d "$dir/gen-$events" ] || ./bin/auditlake generate --out "$dir/gen-$events" --events "$events" --seed 7
[ -d "$dir/gen-$small" ] || ./bin/auditlake generate --out "$dir/gen-$small" --events "$small" --seed 8
go run ./cmd/albench -src "$dir/gen-$events/AWSLogs" -inc-src "$dir/gen-$small/AWSLogs" -bin ./bin/auditlake -increments "${BENCH_INCREMENTS:-1000}"
