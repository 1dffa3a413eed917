# Shared helpers for trellis integration tests (bats).
#
# Each test file gets its own trellisd (own state dir, socket, node name and
# bpffs pin dir) and a unique slice-name prefix, so the suite can run while a
# production trellisd serves real slices.  teardown_file removes everything
# the file created, even when a test failed.

: "${TRELLIS_BUILD:?TRELLIS_BUILD must point at the build directory (tests/run-integration sets it)}"
TRELLIS_SRC=${TRELLIS_SRC:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
TRELLISD="$TRELLIS_BUILD/trellisd/trellisd"
TRELLIS_BIN="$TRELLIS_BUILD/cli/trellis"

# Per-file identity: short, because host veth names are <slice>.<router>.<if> <= 15 chars.
file_id() {
	local base
	base=$(basename "$BATS_TEST_FILENAME" .bats)
	echo "${base%%-*}"
}

# The CLI against this file's daemon.
trellis() {
	"$TRELLIS_BIN" --socket "$T_SOCK" "$@"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# Sanitizer builds: third-party suppressions only (tests/lsan.supp says why
# for each), UB aborts with a stack.  Harmless for normal builds.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TRELLIS_SRC/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Start this file's trellisd.  Extra arguments go to trellisd.
start_daemon() {
	require_root
	T_DIR=$(mktemp -d "/tmp/trellis-test-$(file_id).XXXXXX")
	chmod 711 "$T_DIR" # container roots (mapped uids) must traverse it
	T_SOCK="$T_DIR/trellisd.sock"
	T_NODE="t$(file_id)-$$"
	T_NODE=${T_NODE:0:15}
	T_DAEMON_ARGS="$*"	# for restart_daemon (options without spaces)
	export T_DIR T_SOCK T_NODE T_DAEMON_ARGS
	"$TRELLISD" --state-dir "$T_DIR/state" --socket "$T_SOCK" --node "$T_NODE" \
		--template-path "$TRELLIS_SRC/container-templates${T_EXTRA_TEMPLATES:+:$T_EXTRA_TEMPLATES}" \
		"$@" >"$T_DIR/trellisd.log" 2>&1 &
	echo $! >"$T_DIR/trellisd.pid"
	for _ in $(seq 100); do
		[ -S "$T_SOCK" ] && "$TRELLIS_BIN" --socket "$T_SOCK" node show >/dev/null 2>&1 && wait_reconciled && return 0
		kill -0 "$(cat "$T_DIR/trellisd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "trellisd did not start:" >&2
	cat "$T_DIR/trellisd.log" >&2
	return 1
}

# The daemon answers reads while its start-up reconciliation runs (node show:
# "reconcile": {"running": true}); wait until that is over (at most 120 s).
wait_reconciled() {
	local i
	for i in $(seq 1200); do
		"$TRELLIS_BIN" --socket "$T_SOCK" --json node show 2>/dev/null |
			jq -e '.reconcile and (.reconcile.running != true)' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Kill this file's daemon (signal $1, default KILL; it may be gone already)
# and start it again on the same state, with the same options; wait until
# it answers.
restart_daemon() {
	local pid
	pid=$(cat "$T_DIR/trellisd.pid")
	kill -"${1:-KILL}" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	"$TRELLISD" --state-dir "$T_DIR/state" --socket "$T_SOCK" --node "$T_NODE" \
		--template-path "$TRELLIS_SRC/container-templates${T_EXTRA_TEMPLATES:+:$T_EXTRA_TEMPLATES}" \
		$T_DAEMON_ARGS >>"$T_DIR/trellisd.log" 2>&1 3>&- &
	echo $! >"$T_DIR/trellisd.pid"
	disown $! 2>/dev/null || true # killed on purpose later: no job-control noise
	for _ in $(seq 300); do
		trellis node show >/dev/null 2>&1 && wait_reconciled && return 0
		sleep 0.1
	done
	echo "trellisd did not come back:" >&2
	tail -n 20 "$T_DIR/trellisd.log" >&2
	return 1
}

# Delete every slice of this daemon, stop it, remove its pins and files.
stop_daemon() {
	[ -n "${T_DIR:-}" ] && [ -d "$T_DIR" ] || return 0
	local pid s
	pid=$(cat "$T_DIR/trellisd.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		for s in $(trellis --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
			trellis -q slice delete "$s" >/dev/null 2>&1 || true
		done
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# A daemon that stopped with no slice takes its pins and cgroups with it
	# (the kernel drops emptied cgroups a moment later): anything else fails
	# the file, then goes anyway.
	local left=0 out
	for _ in $(seq 20); do out=$(node_leftovers "$T_NODE") || break; sleep 0.1; done
	if out=$(node_leftovers "$T_NODE"); then
		echo "# trellisd($(file_id)): node '$T_NODE' left behind: $out" >&3
		left=1
	fi
	rm -rf "/sys/fs/bpf/trellis/$T_NODE"
	rmdir /sys/fs/bpf/trellis 2>/dev/null || true
	# The daemon's warnings go into the TAP stream as comments: a CI failure
	# then comes with the daemon's side of the story.
	grep -E ' (warn|error) ' "$T_DIR/trellisd.log" 2>/dev/null | sed "s/^/# trellisd($(file_id)): /" >&3 || true
	# A sanitizer build (configure --enable-asan) reports into the same log:
	# any report fails the file.
	local san=0
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' \
		"$T_DIR/trellisd.log" 2>/dev/null; then
		sed "s/^/# trellisd($(file_id)) sanitizer: /" "$T_DIR/trellisd.log" >&3
		san=1
	fi
	rm -rf "$T_DIR"
	return $((san | left))
}

# A slice of two plain routers joined by one link on 10.OCTET.0.0/24, written
# to $T_DIR/NAME.yaml; prints the path.  Extra top-level lines (e.g.
# "bandwidth: 30mbit") and extra lines for the link (e.g. "    rate: 20mbit").
#   plain_pair_spec NAME OCTET [TOP-LEVEL LINES] [LINK LINES]
plain_pair_spec() {
	local f="$T_DIR/$1.yaml"
	cat >"$f" <<EOS
slice: $1
${3:-}
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.$2.0.1/24, 10.$2.0.2/24]
${4:-}
EOS
	echo "$f"
}

# Copy an example (and the files next to it) into $T_DIR, renaming its slice to $2.
example_as() {
	local ex=$1 name=$2 dir="$T_DIR/spec-$2"
	mkdir -p "$dir"
	cp "$TRELLIS_SRC/examples/"*.conf "$dir/" 2>/dev/null || true
	sed -E "s/^slice: .*/slice: $name/" "$TRELLIS_SRC/examples/$ex" >"$dir/$ex"
	echo "$dir/$ex"
}

# Retry a command until it succeeds or $1 seconds pass.
wait_for() {
	local timeout=$1 start
	shift
	start=$(date +%s)
	until "$@"; do
		[ $(($(date +%s) - start)) -ge "$timeout" ] && return 1
		sleep 0.5
	done
}

# "X is gone" checks.  A bare `! cmd | grep -q X` in the middle of a test can
# never fail it (errexit ignores a negated pipeline; tests/lint-bats.sh refuses
# one): these run CMD, which must succeed, and fail, printing the offending
# lines, when its output matches the extended regular expression RE.
#   refute_output_of RE CMD...
refute_output_of() {
	local re=$1 out
	shift
	if ! out=$("$@"); then
		echo "refute_output_of: '$*' failed" >&2
		return 1
	fi
	if grep -E -- "$re" <<<"$out" >&2; then
		echo "refute_output_of: the output of '$*' matches '$re' (lines above)" >&2
		return 1
	fi
}

# No interface in network namespace NS ("" = the host's) matches RE.
#   refute_links NS RE
refute_links() {
	refute_output_of "$2" ip ${1:+-n "$1"} -o link show
}

# The directories of these cgroup patterns (relative to a hierarchy) that
# exist, on every layout: each v1 controller and the hybrid 'unified' tree
# (/sys/fs/cgroup/<ctrl>/...) and a pure cgroup2 host (/sys/fs/cgroup/...).
# Globs that match nothing stay literal and fail -d: a missing pattern never
# hides the others (as 'ls -d A B C', which exits 2, did).
#   cgroups_matching PATTERN...
cgroups_matching() {
	local pat d
	for pat in "$@"; do
		for d in /sys/fs/cgroup/*/$pat /sys/fs/cgroup/$pat; do
			[ -d "$d" ] && echo "$d"
		done
	done
	return 0
}

# Everything a slice could leave on the host; prints what it finds.  Its own
# test plants each kind (015-checkers.bats).
slice_leftovers() {
	local s=$1 found=0 l
	l=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$s\." | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "veths: $l"
		found=1
	fi
	l=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$s[.-]" | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "network namespaces: $l"
		found=1
	fi
	l=$(cd "${T_DIR:-/nonexistent}/state/lxc" 2>/dev/null && for d in "$s".*; do [ -e "$d" ] && echo "$PWD/$d"; done | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "containers: $l"
		found=1
	fi
	# the slice's cgroups (trellis/<node>/<slice>), its routers' monitor
	# cgroups (trellis.monitor/<node>/<slice>.<router>) and LXC's own names
	# when the monitor cgroup was not set (a failed start: lxc.monitor.NAME)
	l=$(cgroups_matching "trellis/*/$s" "trellis.monitor/*/$s.*" "lxc.monitor.$s.*" "lxc.payload.$s.*" | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "cgroups: $l"
		found=1
	fi
	l=$(pgrep -f "lxc monitor\] [^ ]* $s\." | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "processes: lxc monitors of '$s': $l"
		found=1
	fi
	if [ -f "${T_DIR:-/nonexistent}/state/trellis.db" ]; then
		l=$(sqlite3 "$T_DIR/state/trellis.db" "SELECT (SELECT COUNT(*) FROM slices WHERE name = '$s') || ' ' || (SELECT COUNT(*) FROM links WHERE slice = '$s')" 2>&1)
		if [ "$l" != "0 0" ]; then
			echo "state rows (slices, links) of '$s': $l"
			found=1
		fi
	fi
	return $((1 - found))
}

# What a node's daemon leaves once it stopped with no slice: its bpffs pin
# directory and its cgroup subtrees.  Prints what it finds.
node_leftovers() {
	local n=$1 found=0 l
	if [ -e "/sys/fs/bpf/trellis/$n" ]; then
		echo "bpffs pins: /sys/fs/bpf/trellis/$n"
		found=1
	fi
	l=$(cgroups_matching "trellis/$n" "trellis.monitor/$n" | tr '\n' ' ')
	if [ -n "$l" ]; then
		echo "cgroups: $l"
		found=1
	fi
	return $((1 - found))
}

assert_no_leftovers() {
	local out
	if out=$(slice_leftovers "$1"); then
		echo "slice '$1' left behind: $out" >&2
		return 1
	fi
}

assert_no_node_leftovers() {
	local out
	if out=$(node_leftovers "$1"); then
		echo "node '$1' left behind: $out" >&2
		return 1
	fi
}

# The CLI as user $1 (runuser), against this file's daemon.
as_user() {
	local u=$1
	shift
	runuser -u "$u" -- "$TRELLIS_BIN" --socket "$T_SOCK" "$@"
}

# The reconciler's actions on slice $1 since the daemon started (node show), as JSON.
actions() { trellis --json node show | jq -c "[.reconcile.actions[] | select(.slice == \"$1\") | .action]"; }

# One FRR router of a testbed spec, at 4 spaces under "routers:": OSPF area 0
# on lo (10.255.0.N/32, also the router ID) and on each interface given,
# point-to-point with 1 s hellos.
#   ospf_router NAME NODE N [IFACE...]
ospf_router() {
	local name=$1 node=$2 n=$3 i
	shift 3
	printf '  %s:\n    node: %s\n    loopback: [10.255.0.%s/32]\n    config: |\n      router ospf\n       ospf router-id 10.255.0.%s\n      interface lo\n       ip ospf area 0\n' \
		"$name" "$node" "$n" "$n"
	for i in "$@"; do
		printf '      interface %s\n       ip ospf area 0\n       ip ospf network point-to-point\n       ip ospf hello-interval 1\n       ip ospf dead-interval 4\n' "$i"
	done
}

# vtysh inside a router.
vtysh_in() {
	local slice=$1 router=$2
	shift 2
	trellis slice exec "$slice" "$router" -- vtysh -c "$*"
}

ospf_full_count() {
	vtysh_in "$1" "$2" "show ip ospf neighbor" 2>/dev/null | grep -c "Full" || true
}

# Remove throwaway users a test file made (useradd): their processes first.
#   remove_test_users NAME...   (empty names are skipped)
remove_test_users() {
	local u p
	for u in "$@"; do
		[ -n "$u" ] || continue
		for p in $(pgrep -u "$u" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		userdel "$u" 2>/dev/null || true
	done
}
