#!/usr/bin/env bats
# slice apply in cluster mode: the edited spec becomes the desired state in
# etcd, each node applies the change to its part (a new node creates its
# part, a node left without routers deletes it), the client waits for every
# node; a node that fails makes the client write the previous spec back.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t126
S=t126s
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"

setup_file() {
	require_root
	cluster_up 3
}

teardown_file() {
	local d
	d=$(testbed_dir "$P")
	[ -d "$d" ] || return 0
	tc_cluster -q slice delete "$S" >/dev/null 2>&1 || true
	cluster_testbed_down 3
}

teardown() {
	tc_cluster -q slice delete "$S" >/dev/null 2>&1 || true
}

source "$BATS_TEST_DIRNAME/lib/apply-spec.bash"

dir() { testbed_dir "$P"; }
on() { local i=$1; shift; testbed_trellis "$P" "$i" "$@"; }
pid_on() { on "$1" --json slice show "$S" | jq -r ".routers[] | select(.name == \"$2\") | .pid"; }
has_part() { on "$1" --json slice list | jq -e ".slices[] | select(.name == \"$S\")" >/dev/null; }
no_part() { ! has_part "$1"; }
full() { [ "$(on 2 slice exec "$S" r2 -- vtysh -c "show ip ospf neighbor" 2>/dev/null | grep -c Full)" -ge 1 ]; }

create_base() {
	spec "$(dir)/base.yaml" 10
	run tc_cluster slice create -f "$(dir)/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 60 full
}

@test "cluster: an edit applied by every node in place; a new node's part comes and goes; the untouched link keeps forwarding" {
	create_base
	p1=$(pid_on 1 r1) p2=$(pid_on 2 r2)
	mod0=$(ectl get "/trellis/slices/$S" -w json | jq '.kvs[0].mod_revision')
	on 1 slice exec "$S" r1 -- ping -q -i 0.05 -c 400 10.0.12.2 >"$(dir)/ping.out" 2>&1 &
	pinger=$!
	sleep 0.5
	spec "$(dir)/edit.yaml" 50 "$R3" "$L23" eth2
	run tc_cluster slice apply -f "$(dir)/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"node '${P}n1': ready: applied: 1 change here"* ]]
	[[ "$output" == *"node '${P}n3': ready"* ]]
	# the desired state changed in place (same create revision, a new mod revision)
	[ "$(ectl get "/trellis/slices/$S" -w json | jq '.kvs[0].mod_revision')" -gt "$mod0" ]
	has_part 3
	run on 2 slice exec "$S" r2 -- ping -c 3 -i 0.2 -W 2 10.0.23.3
	echo "$output"
	[ "$status" -eq 0 ]
	# the same key on both halves of the new link
	k2=$(on 2 --json slice show "$S" | jq -r '.links[] | select(.name == "r2:eth2-r3:eth1") | .key')
	k3=$(on 3 --json slice show "$S" | jq -r '.links[] | select(.name == "r2:eth2-r3:eth1") | .key')
	[ -n "$k2" ] && [ "$k2" = "$k3" ]
	run on 1 slice exec "$S" r1 -- vtysh -c "show running-config"
	[[ "$output" == *"ip ospf cost 50"* ]]
	[ "$(pid_on 1 r1)" = "$p1" ] && [ "$(pid_on 2 r2)" = "$p2" ]
	# back to the base, asked through a node's socket: node 3's part goes
	run on 2 slice apply -f "$(dir)/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 30 no_part 3
	run on 2 slice exec "$S" r2 -- ip link show eth2
	[ "$status" -ne 0 ]
	[ "$(pid_on 1 r1)" = "$p1" ] && [ "$(pid_on 2 r2)" = "$p2" ]
	wait "$pinger"
	cat "$(dir)/ping.out"
	grep -q ' 0% packet loss' "$(dir)/ping.out"
}

@test "cluster: a node that fails the apply gets every node the previous spec back" {
	create_base
	p1=$(pid_on 1 r1) p2=$(pid_on 2 r2)
	spec "$(dir)/bad.yaml" 50 "$R3" "$L23" eth2
	sed -i 's|^       ospf router-id 10.255.0.2|&\n       this-is-no-frr-command 1|' "$(dir)/bad.yaml"
	run tc_cluster slice apply -f "$(dir)/bad.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"node '${P}n2'"*"FRR refused"* ]]
	[[ "$output" == *"rolled back on every node"* ]]
	run on 1 slice exec "$S" r1 -- vtysh -c "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
	[[ "$output" != *"ip ospf cost 50"* ]]
	wait_for 30 no_part 3
	[ "$(pid_on 1 r1)" = "$p1" ] && [ "$(pid_on 2 r2)" = "$p2" ]
	# the stored spec on every node is the base again: a local dry run finds nothing to change
	for i in 1 2; do
		run on "$i" slice apply --dry-run -f "$(dir)/base.yaml"
		echo "$output"
		[[ "$output" == *"nothing to change"* ]]
	done
}
