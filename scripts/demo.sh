#!/usr/bin/env bash
# make demo: generate a sample organization's CloudTrail (and cost) files, ingest them into an
# event data store, print what the lake holds, then serve the dashboard.
set -euo pipefail
dir=${1:-demo-data}; events=${2:-200000}; listen=${3:-127.0.0.1:8080}
bin=./bin/auditlake
export AUDITLAKE_DATA=${AUDITLAKE_DATA:-$PWD/$dir/lake}

if [ ! -f "$dir/src/truth.json" ]; then
  echo "== generating $events events into $dir/src"
  $bin generate --out "$dir/src" --events "$events" --seed 42
fi
$bin eds show demo-trail >/dev/null 2>&1 || $bin eds create demo-trail >/dev/null
id=$($bin eds show demo-trail --output json | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1)
echo "== ingesting into demo-trail ($id)"
$bin ingest cloudtrail --eds demo-trail "$dir/src/AWSLogs"
echo "== top event names"
$bin query "SELECT eventname, count(*) AS events FROM \"aws:cloudtrail\".\"$id\" GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
echo "== instances launched (every item of every RunInstances, dry runs excluded)"
$bin query "SELECT useridentity.arn AS launched_by, count(*) AS instances
  FROM \"aws:cloudtrail\".\"$id\",
       UNNEST(CAST(json_extract(element_at(responseelements, 'instancesSet'), '\$.items') AS array(json))) AS t(item)
  WHERE eventname = 'RunInstances' AND errorcode IS NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
if $bin help serve >/dev/null 2>&1; then
  echo "== serving the dashboard on http://$listen (Ctrl-C to stop)"
  exec $bin serve --listen "$listen"
else
  echo "(the dashboard is not built into this binary yet)"
fi
