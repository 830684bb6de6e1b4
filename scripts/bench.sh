#!/usr/bin/env bash
# make bench: generate an organization (1M events by default, with matching cost files), then
# measure ingest against baselines measured in the same run on the same files (parallel zcat,
# DuckDB's read_json), many small ingests against one, and the compliance report and the blog's
# queries over the ingested store. Prints Markdown for BENCHMARKS.md.
#   BENCH_EVENTS=10000000 make bench     # the 10M-event report benchmark (takes a while)
set -euo pipefail
events=${BENCH_EVENTS:-1000000}
small=${BENCH_SMALL_EVENTS:-100000}
dir=${BENCH_DIR:-bench-data}
bin=./bin/auditlake
mkdir -p "$dir"
gen="$dir/gen-$events"
[ -f "$gen/truth.json" ] || $bin generate --out "$gen" --events "$events" --seed 7 --cur --force
[ -f "$dir/gen-$small/truth.json" ] || $bin generate --out "$dir/gen-$small" --events "$small" --seed 8 --force
rm -rf "$dir/work"; mkdir -p "$dir/work"
echo "# auditlake benchmarks — $(date -u +%Y-%m-%d), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB"
echo
echo "Command: \`make bench\` (BENCH_EVENTS=$events)"
echo
go run ./cmd/albench -src "$gen/AWSLogs" -inc-src "$dir/gen-$small/AWSLogs" -bin "$bin" -work "$dir/work" -increments "${BENCH_INCREMENTS:-1000}"
$bin --data "$dir/work/lake" cur register cur.bench "$gen/cur" >/dev/null
go run ./cmd/albench -report-data "$dir/work/lake" -cur cur.bench -approved "$gen/approved-templates.json" -blog testdata
