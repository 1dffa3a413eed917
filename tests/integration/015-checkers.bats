#!/usr/bin/env bats
# The leftover checkers themselves: plant each kind of leftover a slice or a
# node can leave (veth, network namespace, container dir, cgroup on this
# host's layout, lxc monitor process, bpffs pins, SQLite rows) and check that
# helpers.bash's slice_leftovers/assert_no_leftovers and node_leftovers, and
# the benchmarks' cleanup checks (bench/deploy, bench/fastpath), report each;
# then remove it.  Also the "X is gone" helpers (refute_output_of).

bats_require_minimum_version 1.5.0
load helpers

S=t15p     # the planted slice
SR=t15p.r1 # one of its routers

setup_file() {
	start_daemon
	# A scratch state dir with a copy of the daemon's database: rows and
	# containers are planted there, never under the live daemon.
	mkdir -p "$T_DIR/plant/state/lxc"
	sqlite3 "$T_DIR/state/trellis.db" ".backup '$T_DIR/plant/state/trellis.db'"
	FAKE_NODE=t015x$$
	FAKE_NODE=${FAKE_NODE:0:15}
	export FAKE_NODE
}

teardown() {
	unplant_all
}

teardown_file() {
	unplant_all
	stop_daemon
}

# --- planting -----------------------------------------------------------------

# The host's cgroup layout: "v2" (one cgroup2 tree at /sys/fs/cgroup) or "v1"
# (hybrid or legacy: a hierarchy per controller).
cgroup_layout() {
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo v2; else echo v1; fi
}

# Make cgroup REL (relative to a hierarchy) where trellis would: on v1 in the
# pids hierarchy only (one controller must be enough to be reported), on v2 in
# the one tree.  Records each directory made, for unplant_all.
plant_cgroup() {
	local root d
	if [ "$(cgroup_layout)" = v2 ]; then root=/sys/fs/cgroup; else root=/sys/fs/cgroup/pids; fi
	d=$root/$1
	mkdir -pv "$d" | sed -E "s/^mkdir: created directory '(.*)'$/\1/" >>"$BATS_FILE_TMPDIR/cgroups"
	[ -d "$d" ]
	echo "$d"
}

plant() {
	case $1 in
	veth)
		ip link add "$SR.eth1" type veth peer name t15pq ;;
	netns)
		ip netns add "$S-n1" ;;
	container)
		mkdir -p "$T_DIR/plant/state/lxc/$SR/rootfs" ;;
	slice-cgroup)
		plant_cgroup "trellis/$FAKE_NODE/$S/r1" >/dev/null ;;
	monitor-cgroup)
		plant_cgroup "trellis.monitor/$FAKE_NODE/$SR" >/dev/null ;;
	lxc-monitor-cgroup)
		plant_cgroup "lxc.monitor.$SR" >/dev/null ;;
	monitor)
		# what liblxc's monitor calls itself: "[lxc monitor] LXCPATH NAME"
		(exec -a "[lxc monitor] $T_DIR/plant/state/lxc $SR" sleep 600) >/dev/null 2>&1 3>&- &
		echo $! >"$BATS_FILE_TMPDIR/monitor.pid"
		wait_for 5 pgrep -f "lxc monitor\] $T_DIR/plant/state/lxc $SR" ;;
	slice-row)
		sqlite3 "$T_DIR/plant/state/trellis.db" "INSERT INTO slices(name, owner, owner_uid, state, spec, filename, files, uid_index, uid_base, created) VALUES ('$S', 'root', 0, 'running', '', 'x.yaml', '[]', 99999, 0, 0)" ;;
	link-row)
		sqlite3 "$T_DIR/plant/state/trellis.db" "PRAGMA foreign_keys = OFF; INSERT INTO links(slice, name, key) VALUES ('$S', 'r1:eth1-r2:eth1', 999999)" ;;
	node-pins)
		mkdir -p "/sys/fs/bpf/trellis/$FAKE_NODE" && echo "$FAKE_NODE" >>"$BATS_FILE_TMPDIR/pins" ;;
	node-cgroup)
		plant_cgroup "trellis/$FAKE_NODE" >/dev/null ;;
	node-monitor-cgroup)
		plant_cgroup "trellis.monitor/$FAKE_NODE" >/dev/null ;;
	*)
		echo "plant: no kind '$1'" >&2
		return 1 ;;
	esac
}

unplant_all() {
	local d p
	ip link del "$SR.eth1" 2>/dev/null || true
	for d in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^($S|t15b|t15k|t15n)-"); do ip netns del "$d"; done
	if [ -f "$BATS_FILE_TMPDIR/monitor.pid" ]; then
		p=$(cat "$BATS_FILE_TMPDIR/monitor.pid")
		kill "$p" 2>/dev/null || true
		rm -f "$BATS_FILE_TMPDIR/monitor.pid"
	fi
	if [ -f "$BATS_FILE_TMPDIR/cgroups" ]; then
		# deepest first
		tac "$BATS_FILE_TMPDIR/cgroups" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
		rm -f "$BATS_FILE_TMPDIR/cgroups"
	fi
	if [ -f "$BATS_FILE_TMPDIR/pins" ]; then
		while read -r d; do rm -rf "/sys/fs/bpf/trellis/$d"; done <"$BATS_FILE_TMPDIR/pins"
		rm -f "$BATS_FILE_TMPDIR/pins"
	fi
	if [ -n "${T_DIR:-}" ] && [ -f "$T_DIR/plant/state/trellis.db" ]; then
		rm -rf "$T_DIR/plant/state/lxc/$SR"
		sqlite3 "$T_DIR/plant/state/trellis.db" "DELETE FROM links WHERE slice = '$S'; DELETE FROM slices WHERE name = '$S'"
	fi
}

# CHECKER must report nothing now; after planting KIND it must fail and say
# WHAT; after removing it, nothing again.
#   reports CHECKER KIND WHAT
reports() {
	local checker=$1 kind=$2 what=$3
	run "$checker"
	[ "$status" -eq 0 ] || { echo "$checker reported before planting: $output"; return 1; }
	plant "$kind"
	run "$checker"
	echo "# $checker, $kind planted: $output" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"$what"* ]]
	unplant_all
	run "$checker"
	[ "$status" -eq 0 ] || { echo "$checker still reports after removal: $output"; return 1; }
}

# The checkers under test, each as a command that fails when it finds something.
check_slice() { T_DIR="$T_DIR/plant" assert_no_leftovers "$S"; }
check_node() { assert_no_node_leftovers "$FAKE_NODE"; }

# bench/deploy's and bench/fastpath's own leftovers(), taken from the scripts
# (so this tests the code the benchmarks run), with the names they would use.
bench_function() {
	local code
	code=$(sed -n '/^leftovers() {$/,/^}$/p' "$TRELLIS_SRC/bench/$1")
	[ -n "$code" ] || { echo "bench/$1: no leftovers() function" >&2; return 1; }
	eval "${code/leftovers()/bench_$1_leftovers()}"
}
check_bench_deploy() {
	bench_function deploy
	local CREATED_SLICES=("$S") NODE=$FAKE_NODE NETNS_PREFIX=$S- T_DIR=$T_DIR/plant DAEMON_PID=
	# its T_DIR check ("files") is about the whole state dir: not planted here
	if bench_deploy_leftovers | grep -v "^files: "; then return 1; fi
}
check_bench_deploy_files() {
	bench_function deploy
	local CREATED_SLICES=() NODE=none NETNS_PREFIX=none- T_DIR=$T_DIR/plant DAEMON_PID=
	if bench_deploy_leftovers; then return 1; fi
}
check_bench_fastpath() {
	bench_function fastpath
	# shellcheck source=lib/testbed.bash
	source "$TRELLIS_SRC/tests/integration/lib/testbed.bash"
	local TB=t15b KB=t15k NS=t15n SAME=$S CROSS=t15c W_DIR= BG_PIDS=()
	if bench_fastpath_leftovers; then return 1; fi
}

# --- the checkers ---------------------------------------------------------------

@test "nothing planted: every checker is quiet" {
	check_slice
	check_node
	check_bench_deploy
	check_bench_fastpath
	run check_bench_deploy_files
	[ "$status" -ne 0 ] # its scratch state dir exists: the bench would call that a leftover
}

@test "slice_leftovers reports a veth named like the slice's" {
	reports check_slice veth "veths: $SR.eth1"
}

@test "slice_leftovers reports a network namespace named like the slice's" {
	reports check_slice netns "network namespaces: $S-n1"
}

@test "slice_leftovers reports a container directory in the state dir" {
	reports check_slice container "containers: $T_DIR/plant/state/lxc/$SR"
}

@test "slice_leftovers reports the slice's cgroup on this host's layout" {
	echo "# cgroup layout: $(cgroup_layout)" >&3
	reports check_slice slice-cgroup "/trellis/$FAKE_NODE/$S"
}

@test "slice_leftovers reports a router's monitor cgroup (trellis.monitor)" {
	reports check_slice monitor-cgroup "/trellis.monitor/$FAKE_NODE/$SR"
}

@test "slice_leftovers reports LXC's own monitor cgroup (lxc.monitor.NAME)" {
	reports check_slice lxc-monitor-cgroup "/lxc.monitor.$SR"
}

@test "slice_leftovers reports an lxc monitor process of the slice" {
	reports check_slice monitor "processes: lxc monitors of '$S'"
}

@test "slice_leftovers reports the slice's rows in the state database" {
	reports check_slice slice-row "state rows (slices, links) of '$S': 1 0"
	reports check_slice link-row "state rows (slices, links) of '$S': 0 1"
}

@test "node_leftovers reports a node's bpffs pins and cgroup subtrees" {
	reports check_node node-pins "bpffs pins: /sys/fs/bpf/trellis/$FAKE_NODE"
	reports check_node node-cgroup "/trellis/$FAKE_NODE"
	reports check_node node-monitor-cgroup "/trellis.monitor/$FAKE_NODE"
}

@test "bench/deploy's cleanup check reports a veth, netns, cgroup, monitor and pins of its run" {
	reports check_bench_deploy veth "veths of $S: $SR.eth1"
	reports check_bench_deploy netns "network namespaces: $S-n1"
	reports check_bench_deploy slice-cgroup "cgroups of $S:"
	reports check_bench_deploy monitor-cgroup "cgroups of $S:"
	reports check_bench_deploy monitor "processes: lxc monitors under $T_DIR/plant"
	reports check_bench_deploy node-pins "bpffs: /sys/fs/bpf/trellis/$FAKE_NODE"
}

@test "bench/fastpath's cleanup check reports a veth, netns, cgroup and pins of its testbed" {
	local FAKE_NODE=t15bn1
	reports check_bench_fastpath veth "links: $SR.eth1"
	ip netns add t15b-n1
	run check_bench_fastpath
	ip netns del t15b-n1
	[ "$status" -ne 0 ]
	[[ "$output" == *"network namespaces: t15b-n1"* ]]
	reports check_bench_fastpath node-pins "bpffs: /sys/fs/bpf/trellis/t15bn1"
	reports check_bench_fastpath node-cgroup "cgroups: "
}

@test "assert_no_leftovers fails (and names the slice) when something is left" {
	plant veth
	run check_slice
	[ "$status" -eq 1 ]
	[[ "$output" == *"slice '$S' left behind: veths: $SR.eth1"* ]]
}

# --- "X is gone" helpers ----------------------------------------------------------

@test "refute_output_of fails on a match or a failing command, passes otherwise" {
	run refute_output_of 'htb' echo "qdisc htb 1: root"
	[ "$status" -eq 1 ]
	[[ "$output" == *"qdisc htb 1: root"* ]]
	run refute_output_of 'htb' echo "qdisc noqueue 0: root"
	[ "$status" -eq 0 ]
	run refute_output_of 'x' false
	[ "$status" -eq 1 ]
	[[ "$output" == *"'false' failed"* ]]
	plant veth
	run refute_links "" "$S\\."
	[ "$status" -eq 1 ]
	[[ "$output" == *"$SR.eth1"* ]]
}
