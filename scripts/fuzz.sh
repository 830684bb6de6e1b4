#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzX in internal/) for SECONDS each, one after another.
# A crasher makes the run fail; Go has then written it to the package's testdata/fuzz/FuzzX/,
# where plain `go test` replays it from then on: commit it with the fix as a regression case.
# The total fuzz time is appended to FIGURES (default bin/figures.txt, not committed; docs/reliability.md quotes it).
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
figures=${FIGURES:-bin/figures.txt}
mkdir -p "$(dirname "$figures")"
go=${GO:-go}
total=0
n=0
failed=()
while IFS=: read -r file _ decl; do
	n=$((n + 1))
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$decl")
	pkg=./$(dirname "$file")
	echo "== $name ($pkg, ${secs}s)"
	start=$(date +%s)
	corpus="$pkg/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	out=$(mktemp)
	if ! $go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$pkg" 2>&1 | tee "$out"; then
		# Go's fuzz coordinator (go1.26 and older, golang/go#75804) can fail a target with
		# "context deadline exceeded" when -fuzztime runs out, a race in its shutdown: then it
		# either writes nothing or saves the input in flight. A real crasher is always written
		# and fails again when replayed. So a deadline report counts as clean when nothing new
		# was written, or when what was written replays clean (it is then removed).
		new=$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null | sort || true) | grep . || true)
		if grep -q 'context deadline exceeded' "$out" && [ -z "$new" ]; then
			echo "fuzz: $name: the engine's deadline report (golang/go#75804), no input written; not a crasher"
		elif grep -q 'context deadline exceeded' "$out" &&
			$go test -count=1 -run "^${name}\$" "$pkg" >/dev/null 2>&1; then
			echo "fuzz: $name: the engine's deadline report (input replays clean); not a crasher"
			for f in $new; do rm -f "$corpus/$f"; done
			rmdir "$corpus" 2>/dev/null || true
		else
			failed+=("$name ($pkg)")
		fi
	fi
	rm -f "$out"
	total=$((total + $(date +%s) - start))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' internal | sort)
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) targets=$n seconds_each=$secs total_seconds=$total failed=${#failed[@]}" >>"$figures"
if ((${#failed[@]})); then
	printf 'fuzz: crasher found in %s; see its testdata/fuzz/ directory\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: every target ran ${secs}s, no crasher (${total}s in all)"
