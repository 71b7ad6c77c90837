#!/usr/bin/env bash
# test.sh: every test of STA Gateway, against real Slurm sites on this machine.
#
# Brings the dev sites up (scripts/dev-sites.sh) unless they already run, checks gofmt,
# runs go vet and go test -race over every package, and takes the sites down again if
# it started them. Packages whose tests use the sites run one at a time (-p 1), so that
# the sites' counters (sdiag, sacct) see only one package's jobs; pure packages run in
# parallel. Extra arguments go to both go test runs (e.g. -run, -v).
# Long tests (soak, fault storms) are behind the 'soak' build tag: scripts/soak.sh.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

started=no
if ! scripts/dev-sites.sh status >/dev/null 2>&1; then
	# Something is missing or dead: bring everything up, and remember to take it down if
	# nothing of it ran before.
	if ! compgen -G "${STA_DEV_STATE:-$REPO/.dev-sites}/pids/*.pid" >/dev/null; then
		started=yes
	fi
	cleanup() { [[ $started == yes ]] && scripts/dev-sites.sh down || true; }
	trap cleanup EXIT
	scripts/dev-sites.sh up
fi
eval "$(scripts/dev-sites.sh env)"

echo "== gofmt" >&2
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [[ -n $unformatted ]]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet" >&2
go vet ./...

# Packages whose tests import internal/devsites use the real sites.
mapfile -t site_pkgs < <(go list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
	awk '/internal\/devsites( |$)/ {print $1}')
mapfile -t pure_pkgs < <(go list ./... | grep -vxF -f <(printf '%s\n' "${site_pkgs[@]}" ''))

echo "== go test -race (pure packages)" >&2
go test -race -count=1 "$@" "${pure_pkgs[@]}"

echo "== go test -race -p 1 (packages on the real sites: ${#site_pkgs[@]})" >&2
go test -race -count=1 -p 1 -timeout 30m "$@" "${site_pkgs[@]}"
