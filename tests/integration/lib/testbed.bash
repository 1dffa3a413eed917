# Emulated substrate for multi-node tests and benchmarks.
#
#   source tests/integration/lib/testbed.bash
#   testbed_up PREFIX N        # N nodes: netns PREFIX-n1..nN, routed through PREFIX-sw
#   testbed_daemon PREFIX I [trellisd options...]   # start node I's trellisd inside its netns
#   testbed_trellis PREFIX I ARGS...                 # the CLI against node I
#   tb ARGS...                 # the CLI against every node of testbed $P
#   testbed_down PREFIX        # stop daemons (deleting their slices), remove everything
#
# Node I is a network namespace PREFIX-nI whose "eth0" (198.18.I.2/24) is a veth
# wire to the substrate router namespace PREFIX-sw (198.18.I.1/24, forwarding
# on).  Each node's trellisd runs in its namespace (nsenter --net, so it keeps
# the host's /sys, cgroups and bpffs) with its own state dir, socket, node name
# PREFIXnI and bpffs pin dir.  198.18.0.0/15 is the benchmarking range: no
# traffic leaves these namespaces.
#
# Needs: TRELLIS_BUILD (build dir) and TRELLIS_SRC (source dir) in the environment.
# TRELLIS_TESTBED_TMP: where the state dirs go [/tmp] (benchmarks: a tmpfs, see
# bench/README.md "Things that move the numbers").

testbed_dir() { echo "${TRELLIS_TESTBED_TMP:-/tmp}/trellis-tb-$1"; }

# The CLI against every node of the caller's testbed $P (a test file's prefix).
tb() {
	# shellcheck disable=SC2046
	"$TRELLIS_BIN" $(testbed_node_args "$P") "$@"
}

testbed_up() {
	local p=$1 n=$2 i dir
	dir=$(testbed_dir "$p")
	mkdir -p "$dir"
	chmod 711 "$dir"
	echo "$n" >"$dir/nodes"
	ip netns add "$p-sw"
	ip -n "$p-sw" link set lo up
	ip netns exec "$p-sw" sysctl -qw net.ipv4.ip_forward=1
	for i in $(seq "$n"); do
		ip netns add "$p-n$i"
		ip -n "$p-n$i" link set lo up
		ip link add "$p-w$i" netns "$p-sw" type veth peer name eth0 netns "$p-n$i"
		ip -n "$p-sw" addr add "198.18.$i.1/24" dev "$p-w$i"
		ip -n "$p-sw" link set "$p-w$i" up
		ip -n "$p-n$i" addr add "198.18.$i.2/24" dev eth0
		ip -n "$p-n$i" link set eth0 up
		ip -n "$p-n$i" route add default via "198.18.$i.1"
		mkdir -p "$dir/n$i"
	done
}

# A two-router slice NAME of plain routers, a on node A and b on node B, one
# link between them (10.9.0.1-2/24), written beside the testbed: its path.
pair_spec() { # NAME A B
	local f
	f="$(testbed_dir "$P")/$1.yaml"
	cat >"$f" <<EOS
slice: $1
routers:
  a:
    node: ${P}n$2
    template: plain
  b:
    node: ${P}n$3
    template: plain
links:
  - endpoints: [a:eth1, b:eth1]
    ipv4: [10.9.0.1/24, 10.9.0.2/24]
EOS
	echo "$f"
}

testbed_node_addr() { echo "198.18.$2.2"; }
testbed_node_name() { echo "${1}n$2"; }
testbed_sock() { echo "$(testbed_dir "$1")/n$2/trellisd.sock"; }

testbed_daemon() {
	local p=$1 i=$2 dir
	shift 2
	dir=$(testbed_dir "$p")/n$i
	nsenter --net="/run/netns/$p-n$i" "$TRELLIS_BUILD/trellisd/trellisd" \
		--state-dir "$dir/state" --socket "$dir/trellisd.sock" --node "$(testbed_node_name "$p" "$i")" \
		--substrate eth0 --template-path "$TRELLIS_SRC/container-templates" "$@" \
		>>"$dir/trellisd.log" 2>&1 &
	echo $! >"$dir/trellisd.pid"
	disown $! 2>/dev/null || true # tests kill it on purpose: no job-control noise
	for _ in $(seq 1200); do
		# answered, and its start-up reconciliation is over (node show: reconcile.running)
		"$TRELLIS_BUILD/cli/trellis" --socket "$dir/trellisd.sock" --json node show 2>/dev/null |
			jq -e '.reconcile and (.reconcile.running != true)' >/dev/null && return 0
		kill -0 "$(cat "$dir/trellisd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "trellisd of node $i did not start:" >&2
	cat "$dir/trellisd.log" >&2
	return 1
}

testbed_daemon_stop() { # PREFIX I [SIGNAL]
	local dir pid
	dir=$(testbed_dir "$1")/n$2
	pid=$(cat "$dir/trellisd.pid" 2>/dev/null) || return 0
	kill -"${3:-TERM}" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$dir/trellisd.pid"
}

testbed_trellis() {
	local p=$1 i=$2
	shift 2
	"$TRELLIS_BUILD/cli/trellis" --socket "$(testbed_sock "$p" "$i")" "$@"
}

# --node arguments naming every node of the testbed, for multi-node CLI calls.
testbed_node_args() {
	local p=$1 i n
	n=$(cat "$(testbed_dir "$p")/nodes")
	for i in $(seq "$n"); do
		printf -- '--node %s=%s ' "$(testbed_node_name "$p" "$i")" "$(testbed_sock "$p" "$i")"
	done
}

testbed_down() {
	local p=$1 dir n i s
	dir=$(testbed_dir "$p")
	[ -d "$dir" ] || return 0
	n=$(cat "$dir/nodes" 2>/dev/null || echo 0)
	for i in $(seq "$n"); do
		if [ -f "$dir/n$i/trellisd.pid" ] && kill -0 "$(cat "$dir/n$i/trellisd.pid")" 2>/dev/null; then
			for s in $(testbed_trellis "$p" "$i" --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
				testbed_trellis "$p" "$i" -q slice delete "$s" >/dev/null 2>&1 || true
			done
		fi
		testbed_daemon_stop "$p" "$i"
		# Routers a failed test left (their daemon gone, or it could not delete):
		# stopped here, in the node's network namespace (LXC's command sockets
		# are abstract sockets there), before their state directory goes.
		local c
		for c in "$dir/n$i/state/lxc"/*/; do
			[ -f "$c/config" ] || continue
			nsenter --net="/run/netns/$p-n$i" lxc-stop -P "$dir/n$i/state/lxc" -n "$(basename "$c")" -k \
				>/dev/null 2>&1 || true
		done
		# ... and the node's cgroups they leave (v1 controllers and the v2 mount), deepest first
		for c in /sys/fs/cgroup/*/trellis/"$(testbed_node_name "$p" "$i")" \
			/sys/fs/cgroup/*/trellis.monitor/"$(testbed_node_name "$p" "$i")" \
			/sys/fs/cgroup/trellis/"$(testbed_node_name "$p" "$i")" \
			/sys/fs/cgroup/trellis.monitor/"$(testbed_node_name "$p" "$i")"; do
			[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
		rm -rf "/sys/fs/bpf/trellis/$(testbed_node_name "$p" "$i")"
		ip netns del "$p-n$i" 2>/dev/null || true
	done
	ip netns del "$p-sw" 2>/dev/null || true
	rmdir /sys/fs/bpf/trellis 2>/dev/null || true
	# A sanitizer build (configure --enable-asan) reports into the daemons'
	# logs: any report fails the caller (as in helpers.bash's stop_daemon).
	local san=0
	for i in $(seq "$n"); do
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' \
			"$dir/n$i/trellisd.log" 2>/dev/null; then
			sed "s/^/# trellisd(node $i) sanitizer: /" "$dir/n$i/trellisd.log" >&2
			san=1
		fi
	done
	rm -rf "$dir"
	return $san
}
