#!/usr/bin/env bash
# dev-sites.sh: real Slurm sites on this machine, for STA Gateway's tests and demo.
#
#   scripts/dev-sites.sh up [SITE...]   start (idempotent) the default sites, or the named ones
#   scripts/dev-sites.sh down           stop exactly the processes 'up' started, remove namespaces
#   scripts/dev-sites.sh status         what runs, per site
#   scripts/dev-sites.sh env            'export NAME=value' lines for clients and tests
#
# Sites (catalogue): ca-hydro (CA, default), de-hpc (DE, default), ca-east (CA, on request).
# One munged, one MariaDB and one slurmdbd serve every site. Each site has its own slurmctld,
# its slurmd nodes and an OpenSSH login node on a loopback port. Users: alice, bob (logins
# with keys or certificates of their jurisdiction's CA) and monitor (Slurm operator).
#
# State lives in $STA_DEV_STATE (default: .dev-sites/ at the repository root). Every PID that
# 'up' starts is recorded under $STA_DEV_STATE/pids, and 'down' stops those, never by name.
# Needs root: it installs Debian packages, adds users and creates network namespaces.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${STA_DEV_STATE:-$REPO/.dev-sites}
DEFAULT_SITES=(ca-hydro de-hpc)
CATALOGUE=(ca-hydro de-hpc ca-east)
USERS=(alice bob)
MONITOR=monitor

# Ports, all on loopback (or on the de-hpc bridge, which only this script creates).
DB_PORT=${STA_DEV_DB_PORT:-3406}
DBD_PORT=${STA_DEV_DBD_PORT:-6919}

# Network of de-hpc's node namespaces: a bridge this script creates, private addresses.
DE_BRIDGE=sta-de-br0
DE_NET=10.77.0
DE_NS_PREFIX=sta-de-

log() { printf 'dev-sites: %s\n' "$*" >&2; }
die() { printf 'dev-sites: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Site catalogue. site_* functions set the variables of one site.
# ---------------------------------------------------------------------------------------
site_vars() {
	SITE=$1
	SITE_DIR=$STATE/sites/$SITE
	case $SITE in
	ca-hydro)
		JURIS=CA; CTLD_PORT=6917; SSH_PORT=2221; NODE_PREFIX=hydro; NODE_COUNT=4; NODE_CPUS=8
		NETNS=no; SLURMD_PORT_BASE=6921; PRIVATE=no
		# Cabled across: leaf1 holds hydro01 and hydro03, leaf2 hydro02 and
		# hydro04, so leaf-by-leaf order differs from Slurm's by-name order.
		LEAF_LAYOUT=interleaved
		;;
	de-hpc)
		JURIS=DE; CTLD_PORT=6937; SSH_PORT=2222; NODE_PREFIX=dnode; NODE_COUNT=4; NODE_CPUS=16
		NETNS=yes; SLURMD_PORT_BASE=6938; PRIVATE=yes
		LEAF_LAYOUT=blocks
		;;
	ca-east)
		JURIS=CA; CTLD_PORT=6957; SSH_PORT=2223; NODE_PREFIX=east; NODE_COUNT=2; NODE_CPUS=8
		NETNS=no; SLURMD_PORT_BASE=6961; PRIVATE=no
		LEAF_LAYOUT=blocks
		;;
	*) die "unknown site '$SITE' (catalogue: ${CATALOGUE[*]})" ;;
	esac
	if [[ $NETNS == yes ]]; then CTLD_ADDR=$DE_NET.1; else CTLD_ADDR=127.0.0.1; fi
}

node_name() { printf '%s%02d' "$NODE_PREFIX" "$1"; }
site_var_prefix() { local s=${1^^}; printf 'STA_DEV_%s' "${s//-/_}"; }

# ---------------------------------------------------------------------------------------
# Processes: start in the background, record the PID, check it, stop it.
# ---------------------------------------------------------------------------------------
# running NAME: the recorded process NAME is alive and still runs the recorded program.
running() {
	local pf=$STATE/pids/$1.pid pid exe
	[[ -f $pf ]] || return 1
	read -r pid exe <"$pf" || return 1
	[[ -d /proc/$pid ]] || return 1
	# Guard against PID reuse: the process must still run the program we started.
	[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]]
}

# start NAME LOGFILE EXE ARGS...: start a foreground daemon in its own session.
start() {
	local name=$1 logf=$2; shift 2
	local exe
	exe=$(readlink -f "$(command -v "$1")")
	mkdir -p "$STATE/pids"
	setsid "$@" </dev/null >>"$logf" 2>&1 &
	echo "$! $exe" >"$STATE/pids/$name.pid"
}

# start_as NAME LOGFILE EXE_PATH CMD...: as start, but CMD ends by exec'ing EXE_PATH
# (nsenter/unshare/sh chains keep the PID, the program changes).
start_as() {
	local name=$1 logf=$2 exe=$3; shift 3
	mkdir -p "$STATE/pids"
	setsid "$@" </dev/null >>"$logf" 2>&1 &
	echo "$! $(readlink -f "$exe")" >"$STATE/pids/$name.pid"
}

# stop_group PIDFILE...: TERM every recorded process that still runs what was started, wait
# for all of them together, KILL what is left, forget the PID files.
stop_group() {
	local pf pid exe i pids=() names=()
	for pf in "$@"; do
		[[ -f $pf ]] || continue
		if read -r pid exe <"$pf" && [[ -d /proc/$pid ]] &&
			[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]]; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid"); names+=("$(basename "$pf" .pid)")
		fi
	done
	for ((i = 0; i < 100; i++)); do
		local alive=0
		for pid in "${pids[@]}"; do [[ -d /proc/$pid ]] && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for i in "${!pids[@]}"; do
		if [[ -d /proc/${pids[$i]} ]]; then
			log "${names[$i]} (${pids[$i]}) did not stop on TERM within 10s; killing"
			kill -KILL "${pids[$i]}" 2>/dev/null || true
		fi
	done
	for pf in "$@"; do rm -f "$pf"; done
}

# wait_for WHAT SECONDS CMD...: retry CMD until it succeeds.
wait_for() {
	local what=$1 secs=$2 i; shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	die "$what did not come up within ${secs}s (logs in $STATE/log)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------
# Machine: packages, users, keys.
# ---------------------------------------------------------------------------------------
install_packages() {
	local need=()
	command -v slurmctld >/dev/null || need+=(slurm-wlm)
	command -v slurmdbd >/dev/null || need+=(slurmdbd)
	command -v munged >/dev/null || need+=(munge)
	command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
	command -v ssh-keygen >/dev/null || need+=(openssh-client)
	command -v mariadbd >/dev/null || need+=(mariadb-server)
	command -v ip >/dev/null || need+=(iproute2)
	command -v nsenter >/dev/null || need+=(util-linux)
	[[ -f /usr/share/bash-completion/bash_completion ]] || need+=(bash-completion)
	# Real InfiniBand tools against a simulated fabric, for the mpi tests.
	command -v ibsim >/dev/null || need+=(ibsim-utils)
	command -v ibnetdiscover >/dev/null || need+=(infiniband-diags)
	((${#need[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || die "packages missing (${need[*]}) and not root to install them"
	log "installing ${need[*]}"
	# Package scripts must not start the system's own daemons.
	local prc=/usr/sbin/policy-rc.d made=no
	if [[ ! -e $prc ]]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod +x "$prc"; made=yes; fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >"$STATE/log/apt.log" 2>&1 || { [[ $made == yes ]] && rm -f "$prc"; die "apt-get update failed (see $STATE/log/apt.log)"; }
	apt-get install -y -qq "${need[@]}" >>"$STATE/log/apt.log" 2>&1 || { [[ $made == yes ]] && rm -f "$prc"; die "apt-get install failed (see $STATE/log/apt.log)"; }
	[[ $made == yes ]] && rm -f "$prc"
	return 0
}

ensure_users() {
	local u
	for u in "${USERS[@]}" "$MONITOR"; do
		if ! getent passwd "$u" >/dev/null; then
			useradd -m -s /bin/bash "$u"
		fi
		# useradd leaves the account locked; sshd (UsePAM no) refuses locked accounts.
		if [[ "$(getent shadow "$u" | cut -d: -f2)" == '!'* ]]; then
			usermod -p '*' "$u"
		fi
	done
}

ensure_keys() {
	local u j
	mkdir -p "$STATE/keys" "$STATE/ca" "$STATE/ssh/authorized_keys"
	chmod 0700 "$STATE/keys" "$STATE/ca"
	chmod 0755 "$STATE/ssh" "$STATE/ssh/authorized_keys"
	for u in "${USERS[@]}" "$MONITOR"; do
		[[ -f $STATE/keys/$u ]] || ssh-keygen -q -t ed25519 -N '' -C "$u@sta-dev" -f "$STATE/keys/$u"
		install -m 0644 "$STATE/keys/$u.pub" "$STATE/ssh/authorized_keys/$u"
	done
	# An automation key of alice's whose use is forced through a wrapper that runs
	# only Slurm commands (authorized_keys command=), as sites issue for gateways.
	[[ -f $STATE/keys/alice-forced ]] || ssh-keygen -q -t ed25519 -N '' -C "alice-forced@sta-dev" -f "$STATE/keys/alice-forced"
	mkdir -p "$STATE/bin"
	chmod 0755 "$STATE/bin"
	cat >"$STATE/bin/sta-forced" <<-'EOF'
		#!/bin/bash
		# Forced command of a gateway automation key (dev sites): runs only Slurm
		# commands, given as plain words or single-quoted strings, with the
		# environment the gateway expects.
		cmd=${SSH_ORIGINAL_COMMAND-}
		word="('[^']*'|\\\\'|[A-Za-z0-9_./=:,+@%-])+"
		re="^$word( $word)*\$"
		if [[ ! $cmd =~ $re ]]; then
			echo "sta-forced: refused: not a plain command line" >&2
			exit 126
		fi
		eval "set -- $cmd"
		case $1 in
		sbatch | squeue | sacct | scancel | scontrol | sinfo) ;;
		*)
			echo "sta-forced: refused: $1 is not allowed" >&2
			exit 126
			;;
		esac
		for v in $(compgen -e); do
			case $v in SBATCH_* | SLURM_CLUSTERS) unset "$v" ;; esac
		done
		export SLURM_TIME_FORMAT=%s
		exec "$@"
	EOF
	chmod 0755 "$STATE/bin/sta-forced"
	printf 'command="%s",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
		"$STATE/bin/sta-forced" "$(cat "$STATE/keys/alice-forced.pub")" >>"$STATE/ssh/authorized_keys/alice"
	for j in CA DE; do
		[[ -f $STATE/ca/user_ca_$j ]] || ssh-keygen -q -t ed25519 -N '' -C "sta-dev user CA $j" -f "$STATE/ca/user_ca_$j"
		install -m 0644 "$STATE/ca/user_ca_$j.pub" "$STATE/ssh/user_ca_$j.pub"
	done
}

# ---------------------------------------------------------------------------------------
# Shared services: munge, MariaDB, slurmdbd.
# ---------------------------------------------------------------------------------------
start_munge() {
	mkdir -p "$STATE/munge"
	chmod 0700 "$STATE/munge"
	[[ -f $STATE/munge/munge.key ]] || mungekey -c -f -k "$STATE/munge/munge.key" >/dev/null
	chmod 0600 "$STATE/munge/munge.key"
	if running munged; then return 0; fi
	# The default socket path is required: slurmdbd ignores AuthInfo=socket=.
	if [[ -S /run/munge/munge.socket.2 ]] && munge -n </dev/null >/dev/null 2>&1; then
		die "a munged that dev-sites did not start already serves /run/munge/munge.socket.2; stop it first"
	fi
	mkdir -p /run/munge
	chmod 0755 /run/munge
	rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
	start munged "$STATE/log/munged.log" munged -F --force --key-file="$STATE/munge/munge.key" \
		--socket=/run/munge/munge.socket.2 --pid-file="$STATE/munge/munged.pid" \
		--log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munged.seed"
	wait_for munged 10 bash -c 'munge -n </dev/null | unmunge'
}

start_mariadb() {
	local d=$STATE/mariadb
	if [[ ! -d $d/data/mysql ]]; then
		mkdir -p "$d/data"
		chmod 0700 "$d"
		mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
			--auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed (see $STATE/log/mariadb-install.log)"
	fi
	[[ -f $d/slurm.pass ]] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$d/slurm.pass"; chmod 0600 "$d/slurm.pass"; }
	if ! running mariadbd; then
		port_free "$DB_PORT" || die "port $DB_PORT (MariaDB) is taken; set STA_DEV_DB_PORT"
		start mariadbd "$STATE/log/mariadb.log" mariadbd --no-defaults --datadir="$d/data" \
			--socket="$d/mysqld.sock" --port="$DB_PORT" --bind-address=127.0.0.1 --user=root \
			--pid-file="$d/mysqld.pid" --skip-name-resolve --innodb-buffer-pool-size=64M \
			--innodb-flush-log-at-trx-commit=2
		wait_for mariadb 30 mariadb --no-defaults -S "$d/mysqld.sock" -u root -e 'select 1'
	fi
	local pass
	pass=$(cat "$d/slurm.pass")
	mariadb --no-defaults -S "$d/mysqld.sock" -u root <<-SQL
		CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
		ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
		CREATE DATABASE IF NOT EXISTS slurm_acct_db;
		GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
	SQL
}

start_slurmdbd() {
	local d=$STATE/dbd
	mkdir -p "$d"
	chmod 0700 "$d"
	cat >"$d/slurmdbd.conf" <<-EOF
		# slurmdbd for every dev site, written by scripts/dev-sites.sh
		AuthType=auth/munge
		DbdHost=localhost
		DbdAddr=127.0.0.1
		DbdPort=$DBD_PORT
		SlurmUser=root
		PidFile=$d/slurmdbd.pid
		LogFile=$STATE/log/slurmdbd.log
		DebugLevel=info
		StorageType=accounting_storage/mysql
		StorageHost=127.0.0.1
		StoragePort=$DB_PORT
		StorageUser=slurm
		StoragePass=$(cat "$STATE/mariadb/slurm.pass")
		StorageLoc=slurm_acct_db
	EOF
	chmod 0600 "$d/slurmdbd.conf"
	# slurmdbd reads slurmdbd.conf from the folder of the SLURM_CONF it is started with.
	printf 'ClusterName=dbd\nSlurmctldHost=localhost\n' >"$d/slurm.conf"
	if running slurmdbd; then return 0; fi
	port_free "$DBD_PORT" || die "port $DBD_PORT (slurmdbd) is taken; set STA_DEV_DBD_PORT"
	SLURM_CONF=$d/slurm.conf start slurmdbd "$STATE/log/slurmdbd.out" slurmdbd -D
	# Any site's slurm.conf points sacctmgr at this slurmdbd.
	wait_for slurmdbd 30 env SLURM_CONF="$STATE/sites/ca-hydro/slurm.conf" sacctmgr -n list cluster
}

# ---------------------------------------------------------------------------------------
# Per site: configuration, accounts, namespaces, daemons, login node.
# ---------------------------------------------------------------------------------------
write_site_conf() {
	site_vars "$1"
	mkdir -p "$SITE_DIR/state" "$SITE_DIR/spool" "$STATE/log/$SITE"
	chmod 0755 "$SITE_DIR"
	local i n nodes_list="" conf=$SITE_DIR/slurm.conf
	local first last
	first=$(node_name 1); last=$(node_name "$NODE_COUNT")
	nodes_list="${NODE_PREFIX}[$(printf '%02d' 1)-$(printf '%02d' "$NODE_COUNT")]"
	{
		echo "# $SITE (jurisdiction $JURIS), written by scripts/dev-sites.sh"
		echo "ClusterName=$SITE"
		echo "SlurmctldHost=$(hostname -s)($CTLD_ADDR)"
		echo "SlurmctldPort=$CTLD_PORT"
		echo "SlurmdPort=$SLURMD_PORT_BASE"
		echo "SlurmUser=root"
		echo "SlurmdUser=root"
		echo "AuthType=auth/munge"
		echo "StateSaveLocation=$SITE_DIR/state"
		echo "SlurmdSpoolDir=$SITE_DIR/spool/%n"
		echo "SlurmctldPidFile=$SITE_DIR/slurmctld.pid"
		echo "SlurmdPidFile=$SITE_DIR/slurmd-%n.pid"
		echo "SlurmctldLogFile=$STATE/log/$SITE/slurmctld.log"
		echo "SlurmdLogFile=$STATE/log/$SITE/slurmd-%n.log"
		echo "ProctrackType=proctrack/linuxproc"
		echo "TaskPlugin=task/none"
		echo "JobAcctGatherType=jobacct_gather/linux"
		echo "JobAcctGatherFrequency=5"
		echo "SelectType=select/cons_tres"
		echo "SelectTypeParameters=CR_Core"
		echo "SchedulerType=sched/backfill"
		echo "TopologyPlugin=topology/tree"
		echo "MpiDefault=none"
		echo "MailProg=/bin/true"
		echo "ReturnToService=2"
		echo "SlurmdParameters=config_overrides"
		echo "MinJobAge=5"
		echo "MaxJobCount=60000"
		echo "MessageTimeout=5"
		echo "KillWait=5"
		echo "InactiveLimit=0"
		echo "SlurmctldTimeout=30"
		echo "SlurmdTimeout=60"
		echo "AccountingStorageType=accounting_storage/slurmdbd"
		echo "AccountingStorageHost=127.0.0.1"
		echo "AccountingStoragePort=$DBD_PORT"
		echo "AccountingStoreFlags=job_comment"
		if [[ $PRIVATE == yes ]]; then
			echo "PrivateData=jobs"
			echo "AccountingStorageEnforce=associations,limits"
		fi
		for ((i = 1; i <= NODE_COUNT; i++)); do
			n=$(node_name "$i")
			if [[ $NETNS == yes ]]; then
				echo "NodeName=$n NodeHostname=$n NodeAddr=$DE_NET.$((10 + i)) Port=$SLURMD_PORT_BASE CPUs=$NODE_CPUS RealMemory=4000 State=UNKNOWN"
			else
				echo "NodeName=$n NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 Port=$((SLURMD_PORT_BASE + i - 1)) CPUs=$NODE_CPUS RealMemory=4000 State=UNKNOWN"
			fi
		done
		echo "PartitionName=batch Nodes=$nodes_list Default=YES DefaultTime=01:00:00 MaxTime=2-00:00:00 State=UP"
		echo "PartitionName=short Nodes=$nodes_list DefaultTime=00:10:00 MaxTime=00:30:00 State=UP"
	} >"$conf"
	chmod 0644 "$conf"
	# Topology: leaves of two nodes under one spine; "blocks" puts nodes 1,2 on
	# leaf1, 3,4 on leaf2...; "interleaved" puts node i on leaf ((i-1) mod leaves)+1.
	{
		echo "# $SITE switch tree, written by scripts/dev-sites.sh"
		local leaves=$(((NODE_COUNT + 1) / 2)) l a b i names="" members
		for ((l = 1; l <= leaves; l++)); do
			if [[ $LEAF_LAYOUT == interleaved ]]; then
				members=""
				for ((i = l; i <= NODE_COUNT; i += leaves)); do members+="${members:+,}$(printf '%02d' "$i")"; done
				echo "SwitchName=leaf$l Nodes=${NODE_PREFIX}[$members]"
			else
				a=$((2 * l - 1)); b=$((2 * l)); ((b > NODE_COUNT)) && b=$NODE_COUNT
				echo "SwitchName=leaf$l Nodes=${NODE_PREFIX}[$(printf '%02d' $a)-$(printf '%02d' $b)]"
			fi
			names+="${names:+,}leaf$l"
		done
		echo "SwitchName=spine Switches=leaf[1-$leaves]"
	} >"$SITE_DIR/topology.conf"
	chmod 0644 "$SITE_DIR/topology.conf"
	: "$first" "$last"
}

# sacctmgr_site SITE: cluster, accounts and associations, before the controller starts.
ensure_accounts() {
	site_vars "$1"
	local sm=(env SLURM_CONF="$SITE_DIR/slurm.conf" sacctmgr -i)
	if ! "${sm[@]}" -n -P list cluster format=cluster | grep -qx "$SITE"; then
		"${sm[@]}" add cluster "$SITE" >/dev/null
	fi
	local a
	for a in acct-a acct-b acct-ops; do
		"${sm[@]}" -n -P list assoc account="$a" cluster="$SITE" format=account,user | grep -qx "$a|" ||
			"${sm[@]}" add account "$a" cluster="$SITE" description="$a" organization=sta-dev >/dev/null
	done
	assoc() { # USER ACCOUNT
		"${sm[@]}" -n -P list assoc user="$1" account="$2" cluster="$SITE" format=user | grep -qx "$1" ||
			"${sm[@]}" add user "$1" account="$2" cluster="$SITE" >/dev/null
	}
	assoc alice acct-a
	assoc alice acct-b
	assoc bob acct-b
	assoc "$MONITOR" acct-ops
	"${sm[@]}" modify user "$MONITOR" set adminlevel=operator >/dev/null 2>&1 || true
	"${sm[@]}" -n -P list user "$MONITOR" format=adminlevel | grep -qi operator ||
		die "could not make $MONITOR a Slurm operator"
}

ensure_netns() {
	site_vars "$1"
	[[ $NETNS == yes ]] || return 0
	mkdir -p "$STATE/netns"
	if ! ip link show "$DE_BRIDGE" >/dev/null 2>&1; then
		ip link add "$DE_BRIDGE" type bridge
		ip addr add "$DE_NET.1/24" dev "$DE_BRIDGE"
		ip link set "$DE_BRIDGE" up
		touch "$STATE/netns/link-$DE_BRIDGE"
	fi
	local i n ns
	for ((i = 1; i <= NODE_COUNT; i++)); do
		n=$(node_name "$i"); ns=$DE_NS_PREFIX$n
		if [[ ! -e /run/netns/$ns ]]; then
			ip netns add "$ns"
			touch "$STATE/netns/ns-$ns"
			# A veth left by an earlier run whose namespace a stray process
			# still held (see cmd_down).
			ip link del "v-$n" 2>/dev/null || true
			ip link add "v-$n" type veth peer name eth0 netns "$ns"
			ip link set "v-$n" master "$DE_BRIDGE" up
			ip -n "$ns" addr add "$DE_NET.$((10 + i))/24" dev eth0
			ip -n "$ns" link set eth0 up
			ip -n "$ns" link set lo up
		fi
	done
}

start_site() {
	local site=$1
	site_vars "$site"
	local i n
	if ! running "$site-slurmctld"; then
		port_free "$CTLD_PORT" || die "port $CTLD_PORT ($site slurmctld) is taken"
		SLURM_CONF=$SITE_DIR/slurm.conf start "$site-slurmctld" "$STATE/log/$site/slurmctld.out" slurmctld -D -i
	fi
	wait_for "$site slurmctld" 30 env SLURM_CONF="$SITE_DIR/slurm.conf" scontrol ping
	for ((i = 1; i <= NODE_COUNT; i++)); do
		n=$(node_name "$i")
		mkdir -p "$SITE_DIR/spool/$n"
		running "$site-slurmd-$n" && continue
		if [[ $NETNS == yes ]]; then
			# nsenter, not 'ip netns exec': the latter remounts /sys and slurmd then aborts.
			SLURM_CONF=$SITE_DIR/slurm.conf start_as "$site-slurmd-$n" "$STATE/log/$site/slurmd-$n.out" \
				"$(command -v slurmd)" nsenter --net="/run/netns/$DE_NS_PREFIX$n" unshare --uts \
				sh -c 'hostname "$1" && exec slurmd -D -N "$1"' sh "$n"
		else
			port_free "$((SLURMD_PORT_BASE + i - 1))" || die "port $((SLURMD_PORT_BASE + i - 1)) ($site $n) is taken"
			SLURM_CONF=$SITE_DIR/slurm.conf start "$site-slurmd-$n" "$STATE/log/$site/slurmd-$n.out" slurmd -D -N "$n"
		fi
	done
	start_sshd "$site"
}

start_sshd() {
	site_vars "$1"
	local d=$SITE_DIR/ssh
	mkdir -p "$d" /run/sshd
	chmod 0755 /run/sshd
	[[ -f $d/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C "$SITE host key" -f "$d/ssh_host_ed25519_key"
	cat >"$d/sshd_config" <<-EOF
		# login node of $SITE, written by scripts/dev-sites.sh
		Port $SSH_PORT
		ListenAddress 127.0.0.1
		HostKey $d/ssh_host_ed25519_key
		PidFile $d/sshd.pid
		AuthorizedKeysFile $STATE/ssh/authorized_keys/%u
		TrustedUserCAKeys $STATE/ssh/user_ca_$JURIS.pub
		AllowUsers ${USERS[*]} $MONITOR
		PermitRootLogin no
		UsePAM no
		StrictModes no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		MaxSessions 10
		MaxStartups 100:30:200
		SetEnv SLURM_CONF=$SITE_DIR/slurm.conf
	EOF
	/usr/sbin/sshd -t -f "$d/sshd_config" || die "sshd config of $SITE is invalid"
	if ! running "$SITE-sshd"; then
		port_free "$SSH_PORT" || die "port $SSH_PORT ($SITE login node) is taken"
		start_as "$SITE-sshd" "$STATE/log/$SITE/sshd.log" /usr/sbin/sshd /usr/sbin/sshd -D -e -f "$d/sshd_config"
	fi
	wait_for "$SITE sshd" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT"
}

# wait_nodes SITE: every node idle (or otherwise responding).
wait_nodes() {
	site_vars "$1"
	local i out
	for ((i = 0; i < 600; i++)); do
		out=$(SLURM_CONF=$SITE_DIR/slurm.conf sinfo -h -N -o '%N %t' 2>/dev/null || true)
		if [[ -n $out ]] && ! grep -qE ' (unk|down|drain|fail|inval|maint|npc|no_resp)\*?$|\*$' <<<"$out"; then
			return 0
		fi
		sleep 0.1
	done
	die "nodes of $1 did not become ready: $out"
}

write_known_hosts() {
	local kh=$STATE/known_hosts tmp s
	tmp=$(mktemp)
	for s in "${CATALOGUE[@]}"; do
		site_vars "$s"
		[[ -f $SITE_DIR/ssh/ssh_host_ed25519_key.pub ]] || continue
		printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1-2 "$SITE_DIR/ssh/ssh_host_ed25519_key.pub")" >>"$tmp"
	done
	install -m 0644 "$tmp" "$kh"
	rm -f "$tmp"
}

started_sites() {
	local s
	for s in "${CATALOGUE[@]}"; do
		[[ -f $STATE/pids/$s-slurmctld.pid ]] && echo "$s"
	done
	return 0
}

# ---------------------------------------------------------------------------------------
# Verbs.
# ---------------------------------------------------------------------------------------
cmd_up() {
	local sites=("$@") s
	((${#sites[@]})) || sites=("${DEFAULT_SITES[@]}")
	for s in "${sites[@]}"; do site_vars "$s"; done
	[[ $(id -u) == 0 ]] || die "up needs root (packages, users, namespaces)"
	mkdir -p "$STATE/log" "$STATE/pids"
	chmod 0755 "$STATE"
	install_packages
	ensure_users
	ensure_keys
	# Every site's configuration first: sacctmgr reads any of them to find slurmdbd.
	for s in ca-hydro "${sites[@]}"; do write_site_conf "$s"; done
	start_munge
	start_mariadb
	start_slurmdbd
	for s in "${sites[@]}"; do
		ensure_accounts "$s"
		ensure_netns "$s"
		start_site "$s"
	done
	for s in "${sites[@]}"; do wait_nodes "$s"; done
	write_known_hosts
	log "up: ${sites[*]} (state in $STATE)"
}

cmd_down() {
	[[ -d $STATE ]] || return 0
	shopt -s nullglob
	# Login nodes first, then the controllers (so they do not chase stopped nodes), then the
	# nodes, then the shared services.
	stop_group "$STATE"/pids/*-sshd.pid
	stop_group "$STATE"/pids/*-slurmctld.pid
	stop_group "$STATE"/pids/*-slurmd-*.pid
	stop_group "$STATE"/pids/slurmdbd.pid
	stop_group "$STATE"/pids/mariadbd.pid "$STATE"/pids/munged.pid
	stop_group "$STATE"/pids/*.pid
	local f
	local pid
	for f in "$STATE"/netns/ns-*; do
		[[ -e $f ]] || continue
		# A job's processes may outlive slurmd; while one holds the node's
		# namespace, its veth stays and the next 'up' fails ("File exists").
		for pid in $(ip netns pids "${f##*/ns-}" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "${f##*/ns-}" 2>/dev/null || true
		rm -f "$f"
	done
	for f in "$STATE"/netns/link-*; do
		[[ -e $f ]] || continue
		ip link del "${f##*/link-}" 2>/dev/null || true
		rm -f "$f"
	done
	log "down"
}

cmd_status() {
	local pf name pid exe st rc=0 s
	if ! compgen -G "$STATE/pids/*.pid" >/dev/null; then
		echo "no dev sites running (state: $STATE)"
		return 1
	fi
	for pf in "$STATE"/pids/*.pid; do
		[[ -f $pf ]] || continue
		name=$(basename "$pf" .pid)
		read -r pid exe <"$pf"
		if running "$name"; then st=running; else st=DEAD; rc=1; fi
		printf '%-28s %-8s %s\n' "$name" "$pid" "$st"
	done
	for s in $(started_sites); do
		site_vars "$s"
		echo "--- $s ($JURIS), ssh 127.0.0.1:$SSH_PORT"
		SLURM_CONF=$SITE_DIR/slurm.conf sinfo 2>&1 || rc=1
	done
	return $rc
}

cmd_env() {
	local sites=() s p
	mapfile -t sites < <(started_sites)
	((${#sites[@]})) || sites=("${DEFAULT_SITES[@]}")
	printf "export %s=%q\n" "STA_DEV_STATE" "$STATE"
	printf "export %s=%q\n" "STA_DEV_SITES" "${sites[*]}"
	printf "export %s=%q\n" "STA_DEV_USERS" "${USERS[*]}"
	for s in "${USERS[@]}" "$MONITOR"; do
		printf "export %s=%q\n" "STA_DEV_KEY_${s^^}" "$STATE/keys/$s"
	done
	printf "export %s=%q\n" "STA_DEV_KEY_ALICE_FORCED" "$STATE/keys/alice-forced"
	printf "export %s=%q\n" "STA_DEV_KNOWN_HOSTS" "$STATE/known_hosts"
	printf "export %s=%q\n" "STA_DEV_DBD" "127.0.0.1:$DBD_PORT"
	for s in "${sites[@]}"; do
		site_vars "$s"
		p=$(site_var_prefix "$s")
		printf "export %s=%q\n" "${p}_SSH" "127.0.0.1:$SSH_PORT"
		printf "export %s=%q\n" "${p}_CLUSTER" "$s"
		printf "export %s=%q\n" "${p}_JURISDICTION" "$JURIS"
		printf "export %s=%q\n" "${p}_SLURM_CONF" "$SITE_DIR/slurm.conf"
		printf "export %s=%q\n" "${p}_TOPOLOGY" "$SITE_DIR/topology.conf"
		printf "export %s=%q\n" "${p}_USER_CA" "$STATE/ca/user_ca_$JURIS"
		printf "export %s=%q\n" "${p}_MONITOR" "$MONITOR"
		printf "export %s=%q\n" "${p}_ACCOUNTS" "acct-a acct-b"
	done
}

main() {
	local verb=${1:-}
	shift || true
	case $verb in
	up) cmd_up "$@" ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	*)
		sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
