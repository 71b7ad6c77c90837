#!/usr/bin/env bash
# bench.sh: the benchmarks of STA Gateway, each reporting ratios against a baseline
# measured in the same run. Needs the dev sites for the slurm benchmarks (brought up,
# and taken down again, as scripts/test.sh does). Extra arguments go to go test
# (e.g. -benchtime 100x). Results also land in var/bench/ for benchstat.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
started=no
if ! scripts/dev-sites.sh status >/dev/null 2>&1; then
	compgen -G "${STA_DEV_STATE:-$REPO/.dev-sites}/pids/*.pid" >/dev/null || started=yes
	cleanup() { [[ $started == yes ]] && scripts/dev-sites.sh down || true; }
	trap cleanup EXIT
	scripts/dev-sites.sh up
fi
eval "$(scripts/dev-sites.sh env)"
mkdir -p var/bench
out=var/bench/$(date -u +%Y%m%dT%H%M%SZ).txt
go test -run '^$' -bench . -benchmem -count=1 -p 1 -timeout 60m "$@" ./... | tee "$out"
echo "results: $out" >&2
