#!/usr/bin/env bash
# make bench: the figures in BENCHMARKS.md. Generates organizations with matching cost files and
# measures, in one run on this machine:
#   1. ingest of BENCH_EVENTS (1M) events against baselines on the same files: two zcat in
#      parallel (the decompression floor) and DuckDB's read_json;
#   2. BENCH_INCREMENTS (1000) small ingests against one ingest of the same files, and queries
#      over both stores;
#   3. the compliance report, daily spend and the blog's two queries, warm, over the 1M store and
#      over BENCH_REPORT_EVENTS (10M; 0 skips) events with at least 10M matching cost lines; the
#      ingest of those events against two zcat, as many small and as few large files (issue 21
#      target 6, BENCH_BIG_ROUNDS alternating rounds, default 2);
#   4. the access restriction overhead: queries by a column- and row-filtered reader against the
#      admin over the 1M store (albench -access-data, medians of 15 rounds: each query takes
#      ~10-50 ms, where a 7-round median moved by a fifth from run to run).
#   5. issue 21's targets 1, 2 and 4 over the 1M store (targets below);
#   6. issue 20: ingest of the 1M events published to a loopback S3 against unpublished
#      (BENCH_PUBLISH_ROUNDS alternating rounds, default 5);
#   7. issue 21's targets 5 (closed days against their gzip input) and 6 (ingest of few large
#      files against zcat);
#   8. issue 19's detections (at the end): ingest of the BENCH_EVENTS files with every rule (57
#      Sigma + the built-ins) evaluated at each commit against ingest without rules
#      (BENCH_RULES_ROUNDS, default 9: the same code read 1.06-1.33 x in 5-round runs), and a
#      hunt of every rule over BENCH_HUNT_EVENTS (default the 10M store, else the 1M one;
#      BENCH_HUNT_ROUNDS, default 3).
# Each numeric target is printed in its section with its figure, baseline, ratio and whether it is
# met, and appended to $dir/targets.tsv (albench reads ALBENCH_TARGETS); the report ends with all
# of them in one "Targets" table (albench -targets-table).
# Prints Markdown. BENCH_ONLY=rules runs only 8 (a quick run: BENCH_ONLY=rules BENCH_HUNT_EVENTS=1000000).
set -euo pipefail
events=${BENCH_EVENTS:-1000000}
small=${BENCH_SMALL_EVENTS:-100000}
big=${BENCH_REPORT_EVENTS:-10000000}
hunt_events=${BENCH_HUNT_EVENTS:-$big}
dir=${BENCH_DIR:-bench-data}
bin=./bin/auditlake
mkdir -p "$dir"
go build -o "$dir/albench" ./cmd/albench
export ALBENCH_TARGETS="$dir/targets.tsv"
rm -f "$ALBENCH_TARGETS"
targets_table() { "$dir/albench" -targets-table "$ALBENCH_TARGETS"; }
gen() { [ -f "$1/truth.json" ] || $bin generate --out "$1" --events "$2" --seed "$3" --cur --force >&2; }
gen "$dir/gen-$events" "$events" 7

# Issue 19's figures: ingest with and without every rule (alternating, medians), then a hunt of
# every rule over a store of N events (ingested here unless it is one of the stores above).
detections() { # detections HUNT-DATA
  "$dir/albench" -rules-ingest "$dir/gen-$events/AWSLogs" -bin "$bin" -work "$dir/work" -approved "$dir/gen-$events/approved-templates.json" -rounds "${BENCH_RULES_ROUNDS:-9}"
  "$dir/albench" -hunt-data "$1" -bin "$bin" -approved "$dir/gen-$events/approved-templates.json" -rounds "${BENCH_HUNT_ROUNDS:-3}"
}
if [ "${BENCH_ONLY:-}" = rules ]; then
  data="$dir/hunt-$hunt_events"
  if [ ! -d "$data" ]; then
    gen "$dir/gen-$hunt_events" "$hunt_events" 9
    $bin --data "$data" eds create bench >/dev/null
    $bin --data "$data" ingest cloudtrail --eds bench "$dir/gen-$hunt_events/AWSLogs" >/dev/null 2>&1
  fi
  echo "# auditlake detections benchmark — $(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Command: \`BENCH_ONLY=rules BENCH_EVENTS=$events BENCH_HUNT_EVENTS=$hunt_events scripts/bench.sh\`"
  detections "$data"
  targets_table
  exit 0
fi
gen "$dir/gen-$small" "$small" 8
rm -rf "$dir/work"; mkdir -p "$dir/work"
echo "# auditlake benchmarks — $(date -u +%Y-%m-%d), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "Command: \`make bench\` (BENCH_EVENTS=$events BENCH_REPORT_EVENTS=$big)"
echo
# Ingest inflates gzip with libdeflate when the machine has it (found at run time), else in Go:
# every ingest figure depends on which.
if ldconfig -p 2>/dev/null | grep -q 'libdeflate\.so\.0'; then
  echo "Gzip: inflated by libdeflate (Debian's libdeflate0)."
else
  echo "Gzip: inflated in Go — this machine has no libdeflate (Debian's libdeflate0), so every ingest reads slower than with it."
fi
echo
"$dir/albench" -src "$dir/gen-$events/AWSLogs" -inc-src "$dir/gen-$small/AWSLogs" -bin "$bin" -work "$dir/work" -increments "${BENCH_INCREMENTS:-1000}" -label "$events events, many small files"

report() { # report DATA GEN LABEL-COPIES
  local data=$1 g=$2 copies=$3
  $bin --data "$data" cur register cur.bench "$g/cur" >/dev/null
  "$dir/albench" -report-data "$data" -cur cur.bench -approved "$g/approved-templates.json" -blog testdata
  rm -rf "$data.cost"
  "$dir/albench" -report-data "$data" -cur cur.bench -scale-cost-out "$data.cost" -scale-copies "$copies" >&2
  $bin --data "$data" cur register cur.scaled "$data.cost/bench-cur" >/dev/null
  "$dir/albench" -report-data "$data" -cur cur.scaled -approved "$g/approved-templates.json" -blog testdata
}
echo
echo "Cost lines: the generated CUR 1.0 CSV (instance-hours, EBS, Savings Plan, tax, credit lines), then"
echo "the same lines as an Athena-integration Parquet CUR with each instance line repeated as the"
echo "other line items of the same instance and hour (data transfer, EBS I/O, credits) to reach a"
echo "large account's line count while every line still matches a launched instance."
report "$dir/work/lake" "$dir/gen-$events" 5
"$dir/albench" -access-data "$dir/work/lake" -access-store bench -rounds 15

# Issue 16's second overhead target: what the query audit log adds to a query (≤ 5 ms), from the
# Go benchmark of the backend's query path unaudited and audited (alternating -count rounds,
# medians of ns/op).
echo
echo "## Query audit log overhead (go test -bench BenchmarkQueryAudit ./internal/app/, 5 alternating rounds)"
echo
go test -run '^$' -bench 'BenchmarkQueryAudit/(unaudited|audited)$' -benchtime 200x -count 5 ./internal/app/ 2>&1 |
  awk -v out="$ALBENCH_TARGETS" '
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
    /BenchmarkQueryAudit\/unaudited/ { u[++nu] = $3 } /BenchmarkQueryAudit\/audited/ { a[++na] = $3 }
    END {
      if (nu == 0 || na == 0) { print "the benchmark did not run"; exit 1 }
      mu = med(u, nu) / 1e6; ma = med(a, na) / 1e6; d = ma - mu
      met = d <= 5 ? "met" : "not met"
      printf "| what | per query, median |\n| --- | --- |\n| unaudited (baseline) | %.2f ms |\n| audited | %.2f ms |\n\nThe audit log adds %.2f ms per query (%.2f ×), target ≤ 5 ms: **%s**\n", mu, ma, d, ma / mu, met
      printf "16: what the audit log adds per query\t%.2f ms (%+.2f ms)\t%.2f ms\t%.2f\t≤ 5 ms added\t%s\n", ma, d, mu, ma / mu, met >> out
    }'

# Issue 21's targets over the same store, each beside its baseline, alternating: SELECT 1 with and
# without the cost tables (1), the CUR CSV read through its converted files against the same lines
# as Parquet (2), the row groups a lookup by eventid reads (4).
targets() { # targets DATA GEN
  local data=$1 g=$2
  rm -rf "$data.cost1"
  "$dir/albench" -report-data "$data" -cur cur.bench -scale-cost-out "$data.cost1" -scale-copies 1 >&2
  $bin --data "$data" cur register cur.pq1 "$data.cost1/bench-cur" >/dev/null
  "$dir/albench" -select-1 -bin "$bin" -report-data "$data"
  "$dir/albench" -report-data "$data" -cur cur.bench -cost-ab cur.pq1 -approved "$g/approved-templates.json" -blog testdata
  "$dir/albench" -needle -report-data "$data"
}
targets "$dir/work/lake" "$dir/gen-$events"

# Issue 20: ingest with the store published to S3 (gofakes3 on loopback) against the same ingest
# unpublished, both with the SQL catalog, alternating; the ratio beside its target (≤ 1.20×).
"$dir/albench" -publish-ab -src "$dir/gen-$events/AWSLogs" -bin "$bin" -work "$dir/work" -rounds "${BENCH_PUBLISH_ROUNDS:-5}"
# Issue 21's targets 5 and 6: the closed days of the store against the gzip of their input, once
# compaction has made them cold (5); the ingest of the same events as few large files of 5,000
# events each (a busy trail's), against two parallel zcat of those files (6; the many small
# files' ratio is the first table's).
echo
echo "## Issue 21 target 6: the same $events events as few large files (5,000 events each), target ≤ 2 × zcat"
echo
[ -f "$dir/big-$events/.done" ] || { rm -rf "$dir/big-$events"; "$dir/albench" -src "$dir/gen-$events/AWSLogs" -repack-out "$dir/big-$events/AWSLogs" -repack-events 5000 && touch "$dir/big-$events/.done"; }
mkdir -p "$dir/work-big"
"$dir/albench" -src "$dir/big-$events/AWSLogs" -bin "$bin" -work "$dir/work-big" -increments 0 -label "$events events, few large files"
"$dir/albench" -storage "$dir/work/lake" -storage-settle -src "$dir/gen-$events/AWSLogs" -label "many small files"
echo
echo "The same events ingested from the large files:"
"$dir/albench" -storage "$dir/work-big/lake" -storage-settle -src "$dir/big-$events/AWSLogs" -label "few large files"

if [ "$big" -gt 0 ]; then
  gen "$dir/gen-$big" "$big" 9
  echo
  echo "## $big events"
  echo
  # Issue 21 target 6 at $big events: ingest against two parallel zcat (alternating,
  # BENCH_BIG_ROUNDS rounds, medians; wall, CPU and peak RSS) on both data shapes. The many
  # small files' last store is the one the report below reads. No warm-up ingest here (-warmup
  # 0): a slow first start is a small part of a 10M round, and a warm-up would add two minutes.
  rm -rf "$dir/work-$big"
  "$dir/albench" -zcat-ab -src "$dir/gen-$big/AWSLogs" -bin "$bin" -work "$dir/work-$big" -rounds "${BENCH_BIG_ROUNDS:-2}" -warmup 0 -label "$big events, many small files"
  rm -rf "$dir/big"; mv "$dir/work-$big/lake" "$dir/big"
  [ -f "$dir/big-$big/.done" ] || { rm -rf "$dir/big-$big"; "$dir/albench" -src "$dir/gen-$big/AWSLogs" -repack-out "$dir/big-$big/AWSLogs" -repack-events 5000 && touch "$dir/big-$big/.done"; }
  "$dir/albench" -zcat-ab -src "$dir/big-$big/AWSLogs" -bin "$bin" -work "$dir/work-$big" -rounds "${BENCH_BIG_ROUNDS:-2}" -warmup 0 -label "$big events, few large files (5,000 events each)"
  rm -rf "$dir/work-$big"
  report "$dir/big" "$dir/gen-$big" 8
fi

if [ "$hunt_events" = "$big" ] && [ "$big" -gt 0 ]; then
  detections "$dir/big"
elif [ "$hunt_events" = "$events" ]; then
  detections "$dir/work/lake"
else
  gen "$dir/gen-$hunt_events" "$hunt_events" 9
  rm -rf "$dir/hunt"
  $bin --data "$dir/hunt" eds create bench >/dev/null
  $bin --data "$dir/hunt" ingest cloudtrail --eds bench "$dir/gen-$hunt_events/AWSLogs" >/dev/null 2>&1
  detections "$dir/hunt"
fi

targets_table
echo
echo "Measured by tests, not here: issue 17's freshness (≤ 30 s polling, ≤ 10 s with SQS: \`go test -run TestFreshness ./internal/collect/\`)"
echo "and issue 21 target 3 (no new session while one is idle: \`go test -run TestIdleSessionIsReusedNotReopened ./internal/app/\`)."
