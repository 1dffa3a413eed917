#!/usr/bin/env bats
# slice apply over several nodes (--node/--nodes): each node changes its own
# part; a router placed on a node new to the slice makes its part there, a
# node left without routers loses its part; a cross-node link the edit does
# not touch keeps forwarding; a node that fails puts back the nodes that
# had applied.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"

P=t25
S=t25s

setup_file() {
	require_root
	testbed_down "$P"
	testbed_up "$P" 3
	for i in 1 2 3; do
		testbed_daemon "$P" "$i"
	done
}

teardown_file() {
	testbed_down "$P"
}

teardown() {
	tb -q slice delete "$S" >/dev/null 2>&1 || true
}

source "$BATS_TEST_DIRNAME/lib/apply-spec.bash"

dir() { testbed_dir "$P"; }
pid_of() { tb --json slice show "$S" | jq -r "[.nodes[].routers[] | select(.name == \"$1\") | .pid // empty][0]"; }
vtysh_tb() { local r=$1; shift; tb slice exec "$S" "$r" -- vtysh -c "$*"; }
full() { [ "$(vtysh_tb r2 "show ip ospf neighbor" 2>/dev/null | grep -c Full)" -ge 1 ]; }
has_part() { testbed_trellis "$P" "$1" --json slice list | jq -e ".slices[] | select(.name == \"$S\")" >/dev/null; }

create_base() {
	spec "$(dir)/base.yaml" 10
	run tb slice create -f "$(dir)/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 60 full
}

@test "dry run over the nodes: one merged plan, nothing changes" {
	create_base
	p1=$(pid_of r1)
	spec "$(dir)/edit.yaml" 50 "$R3" "$L23" eth2
	run tb slice apply --dry-run -f "$(dir)/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dry run"* ]]
	[[ "$output" == *"~ router r1: config: FRR reload, no restart"* ]]
	[[ "$output" == *"+ link r2:eth2-r3:eth1"* ]]
	[[ "$output" == *"+ router r3"* ]]
	plan=$(tb --json slice apply --dry-run -f "$(dir)/edit.yaml")
	# each change once, however many nodes reported it
	[ "$(echo "$plan" | jq '[.changes[] | select(.name == "r2:eth2-r3:eth1")] | length')" = 1 ]
	[ "$(echo "$plan" | jq -r '.applied')" = false ]
	[ "$(echo "$plan" | jq -r '.nodes | keys | join(",")')" = "${P}n1,${P}n2,${P}n3" ]
	run has_part 3
	[ "$status" -ne 0 ]
	[ "$(pid_of r1)" = "$p1" ]
	run vtysh_tb r1 "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
}

@test "add a router on a new node and a cross-node link, change a config, then remove them: the untouched link keeps forwarding" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2)
	tb slice exec "$S" r1 -- ping -q -i 0.05 -c 400 10.0.12.2 >"$(dir)/ping.out" 2>&1 &
	pinger=$!
	sleep 0.5
	spec "$(dir)/edit.yaml" 50 "$R3" "$L23" eth2
	run tb slice apply -f "$(dir)/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ router r1: config: FRR reload, no restart"* ]]
	[[ "$output" == *"+ router r3"* ]]
	[[ "$output" == *"+ link r2:eth2-r3:eth1: its interfaces are added to the running routers"* ]]
	[[ "$output" == *"applied"* ]]
	# node 3 holds a part now; r3 answers over the new tunnel from r2
	has_part 3
	run tb slice exec "$S" r2 -- ping -c 3 -i 0.2 -W 2 10.0.23.3
	echo "$output"
	[ "$status" -eq 0 ]
	run tb --json slice show "$S"
	[ "$(echo "$output" | jq -r '[.nodes[].links[] | select(.name == "r2:eth2-r3:eth1" and .kind == "egre")] | length')" = 2 ]
	# the same key on both halves
	[ "$(echo "$output" | jq -r '[.nodes[].links[] | select(.name == "r2:eth2-r3:eth1" and .kind == "egre") | .key] | unique | length')" = 1 ]
	run vtysh_tb r1 "show running-config"
	[[ "$output" == *"ip ospf cost 50"* ]]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ]
	# back to the base: r3's part goes from node 3, r2 loses eth2 and keeps running
	run tb slice apply -f "$(dir)/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"- router r3"* ]]
	[[ "$output" == *"- link r2:eth2-r3:eth1"* ]]
	run has_part 3
	[ "$status" -ne 0 ]
	refute_links "$P-n3" "$S\."
	run tb slice exec "$S" r2 -- ip link show eth2
	[ "$status" -ne 0 ]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ]
	wait "$pinger"
	cat "$(dir)/ping.out"
	grep -q ' 0% packet loss' "$(dir)/ping.out"
	run tb slice apply -f "$(dir)/base.yaml"
	[[ "$output" == *"nothing to change"* ]]
}

@test "a node whose step fails puts back the nodes that had applied; nothing is created elsewhere" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2)
	# r1 (node 1, applied first) reloads; r2's config is one FRR refuses (node 2 fails)
	spec "$(dir)/bad.yaml" 50 "$R3" "$L23" eth2
	sed -i 's|^       ospf router-id 10.255.0.2|&\n       this-is-no-frr-command 1|' "$(dir)/bad.yaml"
	run tb slice apply -f "$(dir)/bad.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"node '${P}n2'"* ]]
	[[ "$output" == *"FRR refused"* ]]
	[[ "$output" == *"rollback"* ]]
	# node 1 runs the old config again, node 3 got nothing, nothing restarted
	run vtysh_tb r1 "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
	[[ "$output" != *"ip ospf cost 50"* ]]
	run has_part 3
	[ "$status" -ne 0 ]
	run tb slice exec "$S" r2 -- ip link show eth2
	[ "$status" -ne 0 ]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ]
	# every node's stored spec is the base again
	run tb slice apply -f "$(dir)/base.yaml"
	echo "$output"
	[[ "$output" == *"nothing to change"* ]]
	wait_for 30 full
}

@test "the slice's bandwidth changes in place on the nodes its tunnels cross" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2)
	spec "$(dir)/bw.yaml" 10
	sed -i '1a bandwidth: 20mbit' "$(dir)/bw.yaml"
	run tb slice apply -f "$(dir)/bw.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ slice $S: bandwidth: in place"* ]]
	for i in 1 2; do
		[ "$(testbed_trellis "$P" "$i" --json slice show "$S" | jq '.bandwidth.rate')" -eq 20000000 ]
		ip netns exec "$P-n$i" tc class show dev eth0 | tee /dev/stderr | grep -q "rate 20Mbit"
	done
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ]
	run tb slice apply -f "$(dir)/bw.yaml"
	[[ "$output" == *"nothing to change"* ]]
	# and back: the class goes to the default share again
	run tb slice apply -f "$(dir)/base.yaml"
	[ "$status" -eq 0 ]
	for i in 1 2; do
		run ip netns exec "$P-n$i" tc class show dev eth0
		[[ "$output" != *"rate 20Mbit"* ]]
	done
}

@test "a router moved to another node restarts there; its link becomes a tunnel and the router that stays keeps running" {
	create_base
	r4() { printf '  r4:\n    node: %sn%s\n    template: plain\n' "$P" "$1"; }
	l14="$(printf '  - endpoints: [r1:eth2, r4:eth1]\n    ipv4: [10.0.14.1/24, 10.0.14.4/24]\n')"
	spec "$(dir)/r4n1.yaml" 10 "$(r4 1)" "$l14"
	run tb slice apply -f "$(dir)/r4n1.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	run tb --json slice show "$S"
	[ "$(echo "$output" | jq -r '[.nodes[].links[] | select(.name == "r1:eth2-r4:eth1") | .kind] | unique | join(",")')" = "local,remote" ]
	p1=$(pid_of r1) p2=$(pid_of r2) p4=$(pid_of r4)
	[ "$(tb slice exec "$S" r1 -- cat /sys/class/net/eth2/mtu)" = 1500 ]
	spec "$(dir)/r4n2.yaml" 10 "$(r4 2)" "$l14"
	run tb slice apply -f "$(dir)/r4n2.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ router r4: node: restarts"* ]]
	[[ "$output" == *"disturbs: link r1:eth2-r4:eth1 flaps"* ]]
	run tb --json slice show "$S"
	[ "$(echo "$output" | jq -r ".nodes[\"${P}n2\"].routers[] | select(.name == \"r4\") | .state")" = running ]
	[ "$(echo "$output" | jq -r '[.nodes[].links[] | select(.name == "r1:eth2-r4:eth1") | .kind] | unique | join(",")')" = egre ]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ] && [ "$(pid_of r4)" != "$p4" ]
	refute_links "$P-n1" "$S\.r4"
	# the end that stayed takes the tunnel's MTU, and the link carries
	[ "$(tb slice exec "$S" r1 -- cat /sys/class/net/eth2/mtu)" = 1458 ]
	run tb slice exec "$S" r1 -- ping -c 3 -i 0.2 -W 2 10.0.14.4
	echo "$output"
	[ "$status" -eq 0 ]
	# the nodes recorded the link's new kind: a delete leaves no interface and no fast-path entry
	tb -q slice delete "$S"
	for i in 1 2; do
		refute_links "$P-n$i" "$S\."
		pins="/sys/fs/bpf/trellis/$(testbed_node_name "$P" "$i")"
		[ "$(bpftool -j map dump pinned "$pins/fp_keys" | jq length)" = 0 ]
	done
}
