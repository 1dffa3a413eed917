#!/usr/bin/env bats
# Limits of a slice spread over two emulated nodes: the aggregate holds on
# each node separately, 'slice set' without --router changes it on every
# node, a refusal on one node puts the others back, and --router goes to the
# node that runs the router.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"

P=t93
S=t93s

setup_file() {
	require_root
	testbed_down "$P"
	testbed_up "$P" 2
	for i in 1 2; do
		testbed_daemon "$P" "$i"
	done
}

teardown_file() {
	testbed_down "$P"
}

teardown() {
	tb -q slice delete $S >/dev/null 2>&1 || true
}

quota() { # node-index [router]
	local layout rel
	layout=$("$TRELLIS_BIN" --socket "$(testbed_sock "$P" "$1")" --json node show | jq -r .cgroup_layout)
	rel="trellis/$(testbed_node_name "$P" "$1")/$S${2:+/$2}"
	if [ "$layout" = v1 ]; then
		cat "/sys/fs/cgroup/cpu/$rel/cpu.cfs_quota_us"
	else
		awk '{print ($1 == "max") ? -1 : $1}' "/sys/fs/cgroup/$rel/cpu.max"
	fi
}

spec() {
	local f
	f="$(testbed_dir "$P")/$S.yaml"
	cat >"$f" <<EOS
slice: $S
limits: {cpu: 0.5}
routers:
  r1: {template: plain, node: ${P}n1}
  r2: {template: plain, node: ${P}n2, limits: {cpu: 0.3}}
EOS
	echo "$f"
}

@test "the aggregate holds on each node; set changes it everywhere or nowhere" {
	tb -q slice create -f "$(spec)"
	[ "$(quota 1)" = 50000 ]
	[ "$(quota 2)" = 50000 ]
	[ "$(quota 2 r2)" = 30000 ]

	run tb slice set $S --cpu 0.4
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"on node '${P}n1'"*"cpu 0.5 -> 0.4"* ]]
	[ "$(quota 1)" = 40000 ]
	[ "$(quota 2)" = 40000 ]

	# node 2 refuses (its router r2 has 0.3): node 1, changed first, is put back
	run tb slice set $S --cpu 0.2
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"node '${P}n2'"*"router 'r2' would get 0.3 cores"* ]]
	[ "$(quota 1)" = 40000 ]
	[ "$(quota 2)" = 40000 ]

	# --router goes to the router's node
	run tb slice set $S --router r2 --cpu 0.1
	[ "$status" -eq 0 ]
	[ "$(quota 2 r2)" = 10000 ]
	run tb --json slice stats $S
	[ "$(echo "$output" | jq '[.nodes[].routers[] | select(.usage != null)] | length')" = 2 ]
}
