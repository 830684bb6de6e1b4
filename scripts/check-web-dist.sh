#!/usr/bin/env bash
# The built dashboard (web/dist) is committed, so that `go install …/cmd/auditlake@…` gives a
# binary that serves it. This check runs after `make web` rebuilt it from web/src: the build must
# equal what is committed. Under CI=true a difference fails; elsewhere it is a reminder.
set -euo pipefail
cd "$(dirname "$0")/.."
changed=$(git status --porcelain -- web/dist)
if [ -n "$changed" ]; then
  echo "web/dist differs from a fresh build of web/src:" >&2
  echo "$changed" >&2
  echo "commit the rebuilt assets: git add -A web/dist" >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
fi
