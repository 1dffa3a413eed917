#!/usr/bin/env bats
# Cluster mode as an operator runs it: a node failing and returning, a
# create that loses a node, the cluster's status of a down node, admission
# against the nodes' registrations before anything is written, retiring a
# node.  etcd runs in the substrate router namespace on 198.18.1.1 as in
# 100-cluster.bats; three emulated nodes run trellisd --cluster.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t103
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"
SLICES="t103a t103b t103c"

setup_file() {
	require_root
	cluster_up 3
}

teardown_file() {
	local d
	d=$(testbed_dir "$P")
	[ -d "$d" ] || return 0
	etcd_running || etcd_start || true
	for s in $SLICES; do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
	cluster_testbed_down 3
}

teardown() {
	local i
	etcd_running || etcd_start || true
	for i in 1 2 3; do
		ip -n "$P-n$i" link set eth0 up 2>/dev/null || true
		ip -n "$P-n$i" route replace default via "198.18.$i.1" 2>/dev/null || true
		[ -f "$(testbed_dir "$P")/n$i/trellisd.pid" ] || testbed_daemon "$P" "$i" --cluster "$URL" || true
	done
	for s in $SLICES; do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

pair_spec() { # name nodeA nodeB [extra router lines]
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

link_json() { # node slice link field
	testbed_trellis "$P" "$1" --json slice show "$2" | jq -r ".links[] | select(.name == \"$3\") | .$4"
}

# The carrier the router sees on its end of the link (1 up, 0 down).
carrier() { # node slice router
	testbed_trellis "$P" "$1" slice exec "$2" "$3" -- cat /sys/class/net/eth1/carrier 2>/dev/null || echo 0
}

node_state() { # node-as-seen-from name
	testbed_trellis "$P" "$1" --json node list | jq -r ".nodes[] | select(.name == \"$2\") | .state"
}

@test "a link the user took down stays down when the far node dies and returns; show tells the two downs apart" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t103a 1 2)"
	L="a:eth1-b:eth1"
	# the far node dies: node 1 puts its half down on its own, and says why
	testbed_daemon_stop "$P" 2 KILL
	wait_for 25 eval '[ "$(link_json 1 t103a "$L" state)" = "down (node t103n2 away)" ]'
	[ "$(link_json 1 t103a "$L" admin)" = up ]
	[ "$(link_json 1 t103a "$L" away)" = t103n2 ]
	[ "$(carrier 1 t103a a)" = 0 ]
	run testbed_trellis "$P" 1 slice show t103a
	[[ "$output" == *"down (node t103n2 away)"* ]]
	# it returns: the automatic down is undone
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_for 15 eval '[ "$(link_json 1 t103a "$L" state)" = up ]'
	[ "$(link_json 1 t103a "$L" away)" = null ]
	[ "$(carrier 1 t103a a)" = 1 ]
	# now the user takes node 1's half down, and the far node dies and returns again
	testbed_trellis "$P" 1 -q link down t103a a:eth1
	[ "$(link_json 1 t103a "$L" state)" = admin-down ]
	testbed_daemon_stop "$P" 2 KILL
	wait_for 25 eval '[ "$(link_json 1 t103a "$L" away)" = t103n2 ]'
	# the user's down wins in the state, both are in the JSON
	[ "$(link_json 1 t103a "$L" state)" = admin-down ]
	[ "$(link_json 1 t103a "$L" admin)" = down ]
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_for 15 eval '[ "$(link_json 1 t103a "$L" away)" = null ]'
	sleep 3 # a few more link checks: none may bring it up
	[ "$(link_json 1 t103a "$L" state)" = admin-down ]
	[ "$(link_json 1 t103a "$L" admin)" = down ]
	[ "$(carrier 1 t103a a)" = 0 ]
	# the user brings it up: up
	testbed_trellis "$P" 1 -q link up t103a a:eth1
	[ "$(link_json 1 t103a "$L" state)" = up ]
	[ "$(carrier 1 t103a a)" = 1 ]
	tc_cluster -q slice delete t103a
}

@test "the cluster's slice list shows a down node's part as down, not ready" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t103b 1 3)"
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t103b") | .status.t103n3')" = ready ]
	testbed_daemon_stop "$P" 3 KILL
	wait_for 25 eval '[ "$(node_state 1 t103n3)" = down ]'
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t103b") | .status.t103n3')" = down ]
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t103b") | .status.t103n1')" = ready ]
	run tc_cluster slice list
	[[ "$output" == *"t103n3=down"* ]]
	testbed_daemon "$P" 3 --cluster "$URL"
	wait_for 15 eval '[ "$(tc_cluster --json slice list | jq -r ".slices[] | select(.name == \"t103b\") | .status.t103n3")" = ready ]'
	tc_cluster -q slice delete t103b
}

@test "a create the nodes' registered capacity refuses is refused before anything is written to etcd" {
	f="$(testbed_dir "$P")/t103c.yaml"
	cpus=$(($(nproc) + 1))
	cat >"$f" <<EOS
slice: t103c
routers:
  a:
    node: ${P}n1
    template: plain
  b:
    node: ${P}n2
    template: plain
    limits: {cpu: $cpus}
links:
  - endpoints: [a:eth1, b:eth1]
    ipv4: [10.9.0.1/24, 10.9.0.2/24]
EOS
	# the nodes registered what they can still promise
	[ "$(ectl get /trellis/nodes/t103n2 --print-value-only | jq '.cpu_free')" = "$(nproc).0" ] ||
		[ "$(ectl get /trellis/nodes/t103n2 --print-value-only | jq '.cpu_free')" = "$(nproc)" ]
	ectl watch --prefix /trellis/slices/ >"$(testbed_dir "$P")/watch" 2>&1 &
	wpid=$!
	sleep 0.5
	for how in node cluster; do
		if [ $how = node ]; then run testbed_trellis "$P" 1 slice create -f "$f"; else run tc_cluster slice create -f "$f"; fi
		echo "$output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"routers.b.limits.cpu: the slice asks $cpus cores on node 't103n2'"* ]]
		[[ "$output" == *"nothing was written"* ]]
	done
	# a slice-wide limit names that field
	sed -i "s/^routers:/limits: {cpu: $cpus}\nrouters:/; /limits: {cpu: $cpus}}/d" "$f"
	sed -i "/^    limits: {cpu/d" "$f"
	run tc_cluster slice create -f "$f"
	[ "$status" -ne 0 ]
	[[ "$output" == *": limits.cpu: the slice asks $cpus cores on node 't103n1'"* ]]
	sleep 0.5
	kill "$wpid"
	wait "$wpid" || true
	# etcd never saw the slice
	cat "$(testbed_dir "$P")/watch"
	[ ! -s "$(testbed_dir "$P")/watch" ]
	[ -z "$(ectl get --prefix /trellis/alloc/uid/ --print-value-only | grep t103c)" ]
	# what fits is still admitted
	sed -i "/^limits: {cpu/d" "$f"
	tc_cluster -q slice create -f "$f"
	tc_cluster -q slice delete t103c
}
