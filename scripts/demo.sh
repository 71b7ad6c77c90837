#!/usr/bin/env bash
# demo.sh: the whole mission of STA Gateway on this machine, step by step.
#
#   1. two real Slurm sites (ca-hydro in Canada, de-hpc in Germany), started if needed;
#   2. the sta-gateway daemon, configured for them, with projects and allocations;
#   3. a scientist submits a batch script with stacli; the gateway routes it to a site
#      the project's jurisdiction allows, submits it over SSH exactly once, follows it
#      and charges its core-hours;
#   4. data sovereignty: a Canadian-only project's job is never sent to Germany;
#   5. the allocation, the usage report, the routing explanation;
#   6. topology-aware MPI placement on ca-hydro's switch tree.
#
# It stops what it started (the daemon by its PID, the sites if it brought them up).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
WORK=$(mktemp -d /tmp/sta-demo.XXXXXX)
chmod 0755 "$WORK"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

started=no
gw_pid=
cleanup() {
	if [[ -n $gw_pid ]] && kill -0 "$gw_pid" 2>/dev/null; then
		kill -TERM "$gw_pid"
		wait "$gw_pid" 2>/dev/null || true
	fi
	[[ $started == yes ]] && scripts/dev-sites.sh down
	return 0
}
trap cleanup EXIT

step "1. Real Slurm sites on this machine"
if ! scripts/dev-sites.sh status >/dev/null 2>&1; then
	compgen -G "${STA_DEV_STATE:-$REPO/.dev-sites}/pids/*.pid" >/dev/null || started=yes
	scripts/dev-sites.sh up
fi
eval "$(scripts/dev-sites.sh env)"
scripts/dev-sites.sh status | sed -n '/^---/,$p'

step "2. The gateway daemon"
go build -o "$WORK/sta-gateway" ./cmd/sta-gateway
go build -o "$WORK/stacli" ./cmd/stacli
TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
# A free loopback port (the default 8473 may be another daemon's).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
go run ./internal/devsites/cmd/gatewayconf "$WORK/state" "127.0.0.1:$PORT" "$TOKEN" 2s >"$WORK/sta-gateway.toml"
run "$WORK/sta-gateway" check-config "$WORK/sta-gateway.toml"
"$WORK/sta-gateway" serve --config "$WORK/sta-gateway.toml" 2>"$WORK/sta-gateway.log" &
gw_pid=$!
export STACLI_GATEWAY=http://127.0.0.1:$PORT STACLI_TOKEN=$TOKEN STACLI_USER=alice
stacli() { "$WORK/stacli" "$@"; }
for i in $(seq 1 150); do
	kill -0 "$gw_pid" 2>/dev/null || { cat "$WORK/sta-gateway.log"; exit 1; }
	curl -fsS "$STACLI_GATEWAY/v1/health" 2>/dev/null | grep -q '"status": "ok"' && break
	((i < 150)) || { echo "the gateway did not become healthy" >&2; exit 1; }
	sleep 0.2
done
run stacli site list

step "3. A scientist submits a batch script and waits for it"
cat >"$WORK/train.sbatch" <<'EOF'
#!/bin/bash
#SBATCH --job-name=climate-train
#SBATCH --ntasks=4
#SBATCH --time=5
echo "training on $(hostname) with $SLURM_NTASKS tasks"
for epoch in 1 2 3; do echo "epoch $epoch"; sleep 1; done
echo "model saved"
EOF
run cat "$WORK/train.sbatch"
run stacli submit "$WORK/train.sbatch" --project climate-ca --wait
JOB=$(stacli job list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run stacli job status "$JOB"
run stacli job logs "$JOB"

step "4. Data sovereignty: climate-ca's data may not leave Canada"
set +e
run stacli submit "$WORK/train.sbatch" --project climate-ca --jurisdiction DE
echo "(exit code $?)"
set -e
run stacli submit "$WORK/train.sbatch" --project fusion --jurisdiction DE --dry-run

step "5. The allocation, the usage, the routing explanation"
run stacli balance --project climate-ca
run stacli usage --project climate-ca --by site
run stacli job explain "$JOB"

step "6. Topology-aware MPI placement on ca-hydro's switch tree (one node of each leaf busy)"
run cat "$STA_DEV_CA_HYDRO_TOPOLOGY"
run stacli placement plan --topology "$STA_DEV_CA_HYDRO_TOPOLOGY" --free 'hydro[01,02]' --nodes 2 --ntasks-per-node 2 --format hostfile

step "7. A topology-aware 4-node job: the gateway plans, Slurm keeps it to 2 leaves, srun follows the hostfile"
cat >"$WORK/mpi.sbatch" <<'EOF'
#!/bin/bash
#SBATCH --job-name=allreduce
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=2
#SBATCH --time=5
echo "hostfile: $STA_HOSTFILE"
srun --distribution=arbitrary -l printenv SLURMD_NODENAME | sort -n
EOF
run stacli submit "$WORK/mpi.sbatch" --project climate-ca --placement topology --wait
MPI=$(stacli job list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run stacli job explain "$MPI"
run stacli job logs "$MPI"

step "8. What admins scrape: /healthz, /readyz, /metrics (no token), the OpenAPI document"
run curl -fsS "$STACLI_GATEWAY/readyz"
printf '$ curl -fsS %s/metrics | grep -E ...\n' "$STACLI_GATEWAY"
curl -fsS "$STACLI_GATEWAY/metrics" | grep -E '^sta_gateway_(submissions_total|jobs|site_reachable|ledger_charges_total|slurm_queries_total)' | sort
printf '$ curl -fsS %s/v1/openapi.json | python3 -c ...\n' "$STACLI_GATEWAY"
curl -fsS "$STACLI_GATEWAY/v1/openapi.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["openapi"], len(d["paths"]), "paths:", ", ".join(sorted(d["paths"])))'

step "9. The audit trail: every change chained by an HMAC whose key is outside the database"
HEAD=$(curl -fsS "$STACLI_GATEWAY/metrics" | sed -n 's/^sta_gateway_audit_head_info{mac="\([0-9a-f]*\)",seq="\([0-9]*\)"} 1$/\2:\1/p')
run "$WORK/sta-gateway" audit verify --config "$WORK/sta-gateway.toml" --head "$HEAD"

step "Done. The daemon's log is in $WORK/sta-gateway.log"
