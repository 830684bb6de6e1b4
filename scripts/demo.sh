#!/usr/bin/env bash
# make demo: generate a sample organization's CloudTrail and cost files, ingest them into an event
# data store, register the CUR, print the launch-template compliance summary, then serve the
# dashboard with a one-time login link for the demo's admin user.
set -euo pipefail
dir=${1:-demo-data}; events=${2:-200000}; listen=${3:-127.0.0.1:8080}
bin=./bin/auditlake
case $dir in /*) absdir=$dir ;; *) absdir=$PWD/$dir ;; esac
export AUDITLAKE_DATA=${AUDITLAKE_DATA:-$absdir/lake}

if [ ! -f "$dir/src/truth.json" ]; then
  echo "== generating $events events and matching cost files into $dir/src"
  $bin generate --out "$dir/src" --events "$events" --seed 42 --cur --force
fi
$bin eds show demo-trail >/dev/null 2>&1 || $bin eds create demo-trail >/dev/null
id=$($bin eds show demo-trail --output json | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1)
echo "== ingesting into demo-trail ($id)"
$bin ingest cloudtrail --eds demo-trail "$dir/src/AWSLogs"
echo "== registering the cost and usage report (queried in place, not copied)"
$bin cur register cur.cur_demo "$dir/src/cur"
echo "== top event names"
$bin query "SELECT eventname, count(*) AS events FROM \"aws:cloudtrail\".\"$id\" GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
# The generated organization's allow-list (a real user writes their own).
approved=(--approved-config "$dir/src/approved-templates.json")
echo "== launch-template compliance (instances not launched from approved templates, by cost)"
$bin report launch-compliance --eds demo-trail --cur cur.cur_demo "${approved[@]}" --format table | tail -n 12
$bin report launch-compliance --eds demo-trail --cur cur.cur_demo "${approved[@]}" --format html --out "$dir/launch-compliance.html"
echo "   (chart and table: $dir/launch-compliance.html)"
# The server asks for an access key; the demo's admin user gets one once (kept in $dir, mode 0600,
# for curl: Authorization: Bearer <access_key_id>:<secret_access_key>).
if [ ! -f "$dir/demo-admin.json" ]; then
  (umask 077; $bin user create demo --admin --output json > "$dir/demo-admin.json.tmp") && mv "$dir/demo-admin.json.tmp" "$dir/demo-admin.json" \
    || { rm -f "$dir/demo-admin.json.tmp"; echo "   (user demo exists already; its key is not in $dir/demo-admin.json)"; }
fi
echo "== serving the dashboard on http://$listen (Ctrl-C to stop); open the login link below"
exec $bin serve --listen "$listen" --login-link demo "${approved[@]}"
