#!/usr/bin/env bats
# Cluster mode as an operator runs it: a node failing and returning, a
# create that loses a node, the cluster's status of a down node, admission
# against the nodes' registrations before anything is written, retiring a
# node.  etcd runs in the substrate router namespace on 198.18.1.1 as in
# 100-cluster.bats; three emulated nodes run trellisd --cluster.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t104
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"
SLICES="t104a t104b t104c t104d t104e"

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
		# a test that stopped a daemon (SIGSTOP) and failed before it went on
		kill -CONT "$(cat "$(testbed_dir "$P")/n$i/trellisd.pid" 2>/dev/null)" 2>/dev/null || true
		ip -n "$P-n$i" link set eth0 up 2>/dev/null || true
		ip -n "$P-n$i" route replace default via "198.18.$i.1" 2>/dev/null || true
		[ -f "$(testbed_dir "$P")/n$i/trellisd.pid" ] || testbed_daemon "$P" "$i" --cluster "$URL" || true
	done
	for s in $SLICES; do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
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
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t104a 1 2)"
	L="a:eth1-b:eth1"
	# the far node dies: node 1 puts its half down on its own, and says why
	testbed_daemon_stop "$P" 2 KILL
	wait_for 25 eval '[ "$(link_json 1 t104a "$L" state)" = "down (node t104n2 away)" ]'
	[ "$(link_json 1 t104a "$L" admin)" = up ]
	[ "$(link_json 1 t104a "$L" away)" = t104n2 ]
	[ "$(carrier 1 t104a a)" = 0 ]
	run testbed_trellis "$P" 1 slice show t104a
	[[ "$output" == *"down (node t104n2 away)"* ]]
	# it returns: the automatic down is undone
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_for 15 eval '[ "$(link_json 1 t104a "$L" state)" = up ]'
	[ "$(link_json 1 t104a "$L" away)" = null ]
	[ "$(carrier 1 t104a a)" = 1 ]
	# now the user takes node 1's half down, and the far node dies and returns again
	testbed_trellis "$P" 1 -q link down t104a a:eth1
	[ "$(link_json 1 t104a "$L" state)" = admin-down ]
	testbed_daemon_stop "$P" 2 KILL
	wait_for 25 eval '[ "$(link_json 1 t104a "$L" away)" = t104n2 ]'
	# the user's down wins in the state, both are in the JSON
	[ "$(link_json 1 t104a "$L" state)" = admin-down ]
	[ "$(link_json 1 t104a "$L" admin)" = down ]
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_for 15 eval '[ "$(link_json 1 t104a "$L" away)" = null ]'
	sleep 3 # a few more link checks: none may bring it up
	[ "$(link_json 1 t104a "$L" state)" = admin-down ]
	[ "$(link_json 1 t104a "$L" admin)" = down ]
	[ "$(carrier 1 t104a a)" = 0 ]
	# the user brings it up: up
	testbed_trellis "$P" 1 -q link up t104a a:eth1
	[ "$(link_json 1 t104a "$L" state)" = up ]
	[ "$(carrier 1 t104a a)" = 1 ]
	tc_cluster -q slice delete t104a
}

@test "the cluster's slice list shows a down node's part as down, not ready" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t104b 1 3)"
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t104b") | .status.t104n3')" = ready ]
	testbed_daemon_stop "$P" 3 KILL
	wait_for 25 eval '[ "$(node_state 1 t104n3)" = down ]'
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t104b") | .status.t104n3')" = down ]
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t104b") | .status.t104n1')" = ready ]
	# and node 1's own list does not call its half-slice ready
	[ "$(testbed_trellis "$P" 1 --json slice list | jq -r '.slices[] | select(.name == "t104b") | .state')" = degraded ]
	run tc_cluster slice list
	[[ "$output" == *"t104n3=down"* ]]
	testbed_daemon "$P" 3 --cluster "$URL"
	wait_for 15 eval '[ "$(tc_cluster --json slice list | jq -r ".slices[] | select(.name == \"t104b\") | .status.t104n3")" = ready ]'
	tc_cluster -q slice delete t104b
}

@test "a create the nodes' registered capacity refuses is refused before anything is written to etcd" {
	f="$(testbed_dir "$P")/t104c.yaml"
	cpus=$(($(nproc) + 1))
	cat >"$f" <<EOS
slice: t104c
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
	[ "$(ectl get /trellis/nodes/t104n2 --print-value-only | jq '.cpu_free')" = "$(nproc).0" ] ||
		[ "$(ectl get /trellis/nodes/t104n2 --print-value-only | jq '.cpu_free')" = "$(nproc)" ]
	# (timeout is the direct child: killing it ends the watch)
	timeout 120 ip netns exec "$P-sw" etcdctl --endpoints "$ETCD_ADDR:2379" watch --prefix /trellis/slices/ \
		>"$(testbed_dir "$P")/watch" 2>&1 &
	wpid=$!
	sleep 0.5
	for how in node cluster; do
		if [ $how = node ]; then run testbed_trellis "$P" 1 slice create -f "$f"; else run tc_cluster slice create -f "$f"; fi
		echo "$output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"routers.b.limits.cpu: the slice asks $cpus cores on node 't104n2'"* ]]
		[[ "$output" == *"nothing was written"* ]]
	done
	# a slice-wide limit names that field
	sed -i "s/^routers:/limits: {cpu: $cpus}\nrouters:/; /limits: {cpu: $cpus}}/d" "$f"
	sed -i "/^    limits: {cpu/d" "$f"
	run tc_cluster slice create -f "$f"
	[ "$status" -ne 0 ]
	[[ "$output" == *": limits.cpu: the slice asks $cpus cores on node 't104n1'"* ]]
	sleep 0.5
	kill "$wpid"
	wait "$wpid" || true
	# etcd never saw the slice
	cat "$(testbed_dir "$P")/watch"
	[ ! -s "$(testbed_dir "$P")/watch" ]
	[ -z "$(ectl get --prefix /trellis/alloc/uid/ --print-value-only | grep t104c)" ]
	# what fits is still admitted
	sed -i "/^limits: {cpu/d" "$f"
	tc_cluster -q slice create -f "$f"
	tc_cluster -q slice delete t104c
}

@test "a create fails and rolls back as soon as a node it needs is down; meanwhile the live node's part is not shown ready" {
	d=$(testbed_dir "$P")
	# node 2 stops answering before the create is written: it never reports, its lease runs out
	kill -STOP "$(cat "$d/n2/trellisd.pid")"
	start=$(date +%s)
	timeout 90 "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" slice create -f "$(pair_spec t104a 1 2)" >"$d/oc" 2>&1 &
	pc=$!
	wait_for 30 eval 'ectl get /trellis/status/t104a/t104n1 --print-value-only | grep -q ready'
	# node 1 built its part, but the slice is not ready
	run testbed_trellis "$P" 1 --json slice show t104a
	[ "$(echo "$output" | jq -r .state)" = creating ]
	[ "$(echo "$output" | jq -r .cluster.status.t104n1)" = ready ]
	[ "$(echo "$output" | jq -r .cluster.status.t104n2)" = unknown ]
	[ "$(testbed_trellis "$P" 1 --json slice list | jq -r '.slices[] | select(.name == "t104a") | .state')" = creating ]
	sc=0
	wait $pc || sc=$?
	took=$(($(date +%s) - start))
	cat "$d/oc"
	[ "$sc" -ne 0 ] && [ "$sc" -ne 124 ]
	# the lease (10 s) and the check (every second), not a 600 s limit
	[ "$took" -lt 30 ]
	grep -q "node 't104n2' went down (its lease expired) before its part of slice 't104a' was ready" "$d/oc"
	grep -q "removed from every node" "$d/oc"
	[ -z "$(ectl get --prefix /trellis/slices/t104a --keys-only)" ]
	[ "$(testbed_trellis "$P" 1 --json slice list | jq '[.slices[] | select(.name == "t104a")] | length')" = 0 ]
	refute_links "$P-n1" "t104a\."
	# node 2 wakes up: it registers again and builds nothing
	kill -CONT "$(cat "$d/n2/trellisd.pid")"
	wait_for 25 eval '[ "$(node_state 1 t104n2)" = up ]'
	sleep 2
	[ "$(testbed_trellis "$P" 2 --json slice list | jq '[.slices[] | select(.name == "t104a")] | length')" = 0 ]
}

@test "node remove retires a node: refused while it holds routers or is up, unless --force" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t104b 1 3)"
	# up, and holding a router of t104b
	run testbed_trellis "$P" 1 node remove t104n3
	[ "$status" -ne 0 ]
	[[ "$output" == *"node 't104n3' holds routers"*"'t104b'"*"--force"* ]]
	run tc_cluster node remove t104n3
	[ "$status" -ne 0 ]
	[[ "$output" == *"node 't104n3' holds routers"* ]]
	# a node without routers, but up
	run tc_cluster node remove t104n2
	[ "$status" -ne 0 ]
	[[ "$output" == *"node 't104n2' is up"* ]]
	# no such node
	run tc_cluster node remove t104n9
	[ "$status" -ne 0 ]
	[[ "$output" == *"no node 't104n9' in the cluster"* ]]
	# a tenant may not
	run runuser -u nobody -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" node remove t104n2 --force
	[ "$status" -ne 0 ]
	[ -n "$(ectl get /trellis/members/t104n2 --keys-only)" ]
	# node 2 goes away for good: removed, gone from node list
	testbed_daemon_stop "$P" 2 KILL
	wait_for 25 eval '[ "$(node_state 1 t104n2)" = down ]'
	run testbed_trellis "$P" 1 node remove t104n2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"node 't104n2' removed from the cluster (it was down)"* ]]
	[ "$(testbed_trellis "$P" 1 --json node list | jq '[.nodes[] | select(.name == "t104n2")] | length')" = 0 ]
	[ -z "$(ectl get --prefix /trellis/members/t104n2 --keys-only)" ]
	# node 3, with --force while it holds t104b's router: gone, and t104b shows its part down
	testbed_daemon_stop "$P" 3 KILL
	wait_for 25 eval '[ "$(node_state 1 t104n3)" = down ]'
	run tc_cluster --json node remove t104n3 --force
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.slices | join(",")')" = t104b ]
	[ "$(tc_cluster --json node list | jq '[.nodes[] | select(.name == "t104n3")] | length')" = 0 ]
	[ -z "$(ectl get --prefix /trellis/status/t104b/t104n3 --keys-only)" ]
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t104b") | .status.t104n3')" = down ]
	# a node that starts again registers again
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_for 15 eval '[ "$(node_state 1 t104n2)" = up ]'
	testbed_daemon "$P" 3 --cluster "$URL"
	tc_cluster -q slice delete t104b
}

@test "link down/up through one node takes both halves down/up; the node at the other end follows etcd, not a tenant" {
	run testbed_trellis "$P" 1 slice create -f "$(pair_spec t104d 1 2)"
	echo "$output"
	[ "$status" -eq 0 ]
	# every node's steps are shown, not only realizing/ready
	[[ "$output" == *"node 't104n2': routers: router 'b' started (1/1)"* ]]
	[[ "$output" == *"node 't104n1': links: link 'a:eth1-b:eth1' up"* ]]
	[[ "$output" == *"node 't104n2': ready"* ]]
	L="a:eth1-b:eth1"
	[ "$(carrier 2 t104d b)" = 1 ]
	# a tenant cannot take root's link down through any node, and nothing is recorded for the other end
	run runuser -u nobody -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" link down t104d a:eth1
	[ "$status" -ne 0 ]
	[ -z "$(ectl get --prefix /trellis/links/ --keys-only)" ]
	# root, through node 1: node 1's half at once, node 2's within the link check
	run testbed_trellis "$P" 1 --json link down t104d a:eth1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .cluster.far_end)" = follows ]
	[ "$(carrier 1 t104d a)" = 0 ]
	wait_for 10 eval '[ "$(carrier 2 t104d b)" = 0 ]'
	[ "$(link_json 2 t104d "$L" state)" = admin-down ]
	[ "$(ectl get "/trellis/links/t104d/$L" --print-value-only | jq -r '.up, .node' | tr '\n' ' ')" = "false t104n1 " ]
	run testbed_trellis "$P" 1 slice exec t104d a -- ping -c 1 -W 1 10.9.0.2
	[ "$status" -ne 0 ]
	# up through the other node: both up, traffic flows
	testbed_trellis "$P" 2 -q link up t104d b:eth1
	[ "$(carrier 2 t104d b)" = 1 ]
	wait_for 10 eval '[ "$(carrier 1 t104d a)" = 1 ]'
	[ "$(link_json 1 t104d "$L" state)" = up ]
	wait_for 10 testbed_trellis "$P" 1 slice exec t104d a -- ping -c 1 -W 1 10.9.0.2
	# through node 3, which has no part of t104d: both ends follow
	run testbed_trellis "$P" 3 --json link down t104d "$L"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.cluster.far_end + " " + (.cluster.nodes | join(","))')" = "follows t104n1,t104n2" ]
	wait_for 10 eval '[ "$(carrier 1 t104d a)$(carrier 2 t104d b)" = 00 ]'
	# not for a tenant, there either
	run runuser -u nobody -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 3)" link up t104d b:eth1
	[ "$status" -ne 0 ]
	[ "$(ectl get "/trellis/links/t104d/$L" --print-value-only | jq -r '.up, .node' | tr '\n' ' ')" = "false t104n3 " ]
	testbed_trellis "$P" 3 -q link up t104d b:eth1
	wait_for 10 eval '[ "$(carrier 1 t104d a)$(carrier 2 t104d b)" = 11 ]'
	# deleting the slice removes the record
	tc_cluster -q slice delete t104d
	[ -z "$(ectl get --prefix /trellis/links/ --keys-only)" ]
}

@test "slice show of a slice with no part on the node asked, and with --cluster: the cluster's description, to its owner and root" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t104e 2 3)"
	# node 1 has no part of it, yet shows it
	run testbed_trellis "$P" 1 --json slice show t104e
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .state)" = ready ]
	[ "$(echo "$output" | jq -r .node)" = "(cluster)" ]
	[ "$(echo "$output" | jq -r '[.routers[] | .name + "@" + .node + "=" + .state] | join(",")')" = "a@t104n2=ready,b@t104n3=ready" ]
	[ "$(echo "$output" | jq -r '.links[0].kind')" = tunnel ]
	run testbed_trellis "$P" 1 slice show t104e
	[[ "$output" == *"t104n3"*"ready"* ]]
	# the same from etcd directly
	run tc_cluster --json slice show t104e
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.cluster.status | [.[]] | unique | join(",")')" = ready ]
	# not to another user: as if it did not exist
	run runuser -u nobody -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" slice show t104e
	[ "$status" -ne 0 ]
	[[ "$output" != *"t104n2"* ]]
	# a node of it dies: degraded, its router's state says so
	testbed_daemon_stop "$P" 3 KILL
	wait_for 25 eval '[ "$(testbed_trellis "$P" 1 --json slice show t104e | jq -r .state)" = degraded ]'
	[ "$(testbed_trellis "$P" 1 --json slice show t104e | jq -r '.routers[] | select(.name == "b") | .state')" = down ]
	testbed_daemon "$P" 3 --cluster "$URL"
	tc_cluster -q slice delete t104e
	run testbed_trellis "$P" 1 slice show t104e
	[ "$status" -ne 0 ]
}
