#!/usr/bin/env bats
# Cluster mode: desired state in a real etcd, three emulated substrate nodes
# each running trellisd --cluster.  etcd runs in the substrate router
# namespace on 198.18.1.1 (every node routes there), with its own data dir;
# teardown kills it.  Deploy from any node, per-node status, key allocation
# under concurrency, rollback on every node, etcd restart, lease expiry.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t100
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
	# Deleting a cluster slice needs etcd: bring it back if a test left it down.
	etcd_running || etcd_start || true
	for s in $(tc_cluster --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
	cluster_testbed_down 3
}

teardown() {
	etcd_running || etcd_start || true
	for i in 1 2 3; do
		[ -f "$(testbed_dir "$P")/n$i/trellisd.pid" ] || testbed_daemon "$P" "$i" --cluster "$URL" || true
	done
	for s in t100a t100b t100c t100d t100e; do
		testbed_trellis "$P" 1 -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

ring_spec() { # name
	local f
	f="$(testbed_dir "$P")/$1.yaml"
	{
		printf 'slice: %s\nrouters:\n' "$1"
		ospf_router r1 "${P}n1" 1 eth1
		ospf_router r2 "${P}n2" 2 eth1 eth2
		ospf_router r3 "${P}n3" 3 eth1
		cat <<EOS
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.2/24, 10.0.23.3/24]
EOS
	} >"$f"
	echo "$f"
}

# Link keys a node uses for slice $2.
node_keys() { testbed_trellis "$P" "$1" --json slice show "$2" | jq -r '.links[] | select(.kind != "local" and .kind != "remote") | .key'; }

route_via() { # node router prefix
	testbed_trellis "$P" "$1" slice exec t100a "$2" -- ip -4 route show "$3" | grep -q "proto ospf"
}

@test "every node registers under a lease; node list from a node's socket and from etcd" {
	run testbed_trellis "$P" 2 --json node list
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '[.nodes[] | select(.state == "up")] | length')" = 3 ]
	[ "$(echo "$output" | jq -r '.nodes[] | select(.name == "t100n3") | .address')" = 198.18.3.2 ]
	[ "$(echo "$output" | jq -r '.nodes[0].fastpath')" != null ]
	run tc_cluster node list
	[ "$status" -eq 0 ]
	[[ "$output" == *"t100n1"*"up"*"198.18.1.2"* ]]
	# the registration is under a lease
	lease=$(ectl get /trellis/nodes/t100n1 -w json | jq '.kvs[0].lease')
	[ "$lease" != 0 ] && [ "$lease" != null ]
	# node show names the cluster
	[ "$(testbed_trellis "$P" 1 --json node show | jq -r .cluster)" = "$URL" ]
	# what --cluster does not serve is a usage error, and so is mixing it with --node
	run tc_cluster slice exec t100a r1 -- true
	[ "$status" -eq 2 ]
	[[ "$output" == *"'slice exec' is not available with --cluster"* ]]
	run "$TRELLIS_BIN" --cluster "$URL" --node a=/x node list
	[ "$status" -eq 2 ]
}

@test "trellisd --cluster with an unreachable etcd refuses to start and names the endpoint" {
	run nsenter --net="/run/netns/$P-n1" "$TRELLISD" --state-dir "$(testbed_dir "$P")/x" --socket "$(testbed_dir "$P")/x.sock" \
		--node t100x --cluster etcd://198.18.1.1:2999 --template-path "$TRELLIS_SRC/container-templates"
	rm -rf "$(testbed_dir "$P")/x"
	[ "$status" -eq 1 ]
	[[ "$output" == *"etcd at 'http://198.18.1.1:2999' is unreachable"* ]]
	# it leaves nothing behind: no socket, no fast-path pins
	[ ! -e "$(testbed_dir "$P")/x.sock" ]
	[ ! -e /sys/fs/bpf/trellis/t100x ]
}

@test "a 3-node OSPF slice deployed from one node converges, pings across nodes, and is deleted from another" {
	run testbed_trellis "$P" 2 slice create -f "$(ring_spec t100a)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"node 't100n1': ready"* ]]
	[[ "$output" == *"node 't100n3': ready"* ]]
	# each node realized its own router and its halves of the cross-node links
	for i in 1 2 3; do
		[ "$(testbed_trellis "$P" "$i" --json slice show t100a | jq -r '.routers[] | select(.state == "running") | .name')" = "r$i" ]
	done
	[ "$(node_keys 1 t100a)" = "$(node_keys 2 t100a | head -1)" ]
	[ "$(node_keys 3 t100a)" = "$(node_keys 2 t100a | tail -1)" ]
	# the cluster's view
	run tc_cluster --json slice list
	[ "$(echo "$output" | jq -r '.slices[] | select(.name == "t100a") | [.status[]] | unique | join(",")')" = ready ]
	wait_for 60 route_via 1 r1 10.255.0.3
	wait_for 60 route_via 3 r3 10.255.0.1
	wait_for 60 route_via 2 r2 10.255.0.1
	wait_for 60 route_via 2 r2 10.255.0.3
	run testbed_trellis "$P" 3 slice exec t100a r3 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.3 10.255.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	# deleted through another node: gone everywhere, etcd included
	run testbed_trellis "$P" 3 slice delete t100a
	[ "$status" -eq 0 ]
	for i in 1 2 3; do
		[ "$(testbed_trellis "$P" "$i" --json slice list | jq '[.slices[] | select(.name == "t100a")] | length')" = 0 ]
		refute_links "$P-n$i" "t100a\."
	done
	[ -z "$(ectl get --prefix /trellis/slices/t100a --keys-only)" ]
	[ -z "$(ectl get --prefix /trellis/status/t100a/ --keys-only)" ]
}

@test "concurrent creates from two nodes never share a link key; the same name twice: one wins" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t100b 1 2)" &
	p1=$!
	testbed_trellis "$P" 3 -q slice create -f "$(pair_spec t100c 3 2)" &
	p2=$!
	wait $p1
	wait $p2
	kb=$(node_keys 1 t100b)
	kc=$(node_keys 3 t100c)
	[ -n "$kb" ] && [ -n "$kc" ]
	[ "$kb" != "$kc" ]
	# both halves agree
	[ "$(node_keys 2 t100b)" = "$kb" ]
	[ "$(node_keys 2 t100c)" = "$kc" ]
	# traffic crosses on both
	testbed_trellis "$P" 1 slice exec t100b a -- ping -c 2 -i 0.2 -W 2 10.9.0.2
	testbed_trellis "$P" 3 slice exec t100c a -- ping -c 2 -i 0.2 -W 2 10.9.0.2
	testbed_trellis "$P" 1 -q slice delete t100b
	testbed_trellis "$P" 1 -q slice delete t100c
	# the same name from two nodes at once: exactly one create succeeds
	f=$(pair_spec t100b 1 3)
	testbed_trellis "$P" 1 -q slice create -f "$f" >"$(testbed_dir "$P")/o1" 2>&1 &
	p1=$!
	testbed_trellis "$P" 2 -q slice create -f "$f" >"$(testbed_dir "$P")/o2" 2>&1 &
	p2=$!
	s1=0 s2=0
	wait $p1 || s1=$?
	wait $p2 || s2=$?
	cat "$(testbed_dir "$P")"/o1 "$(testbed_dir "$P")"/o2
	[ $((s1 == 0)) -ne $((s2 == 0)) ]
	grep -q "slice 't100b' already exists in the cluster" "$(testbed_dir "$P")"/o[12]
}

@test "a failure on one node rolls the slice back on every node" {
	# node 3 cannot take it: a leftover interface holds one of its names
	ip -n "$P-n3" link add t100a.r3.eth1 type dummy 2>/dev/null ||
		ip -n "$P-n3" link add t100a.r3.eth1 type veth peer name t100x
	run testbed_trellis "$P" 1 slice create -f "$(ring_spec t100a)"
	ip -n "$P-n3" link del t100a.r3.eth1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"node 't100n3': failed"* ]]
	[[ "$output" == *"removed from every node"* ]]
	for i in 1 2 3; do
		[ "$(testbed_trellis "$P" "$i" --json slice list | jq '.slices | length')" = 0 ]
		refute_links "$P-n$i" "t100a\."
	done
	[ -z "$(ectl get --prefix /trellis/slices/ --keys-only)" ]
	[ -z "$(ectl get --prefix /trellis/status/t100a/ --keys-only)" ]
	# and the name can be used again right away
	testbed_trellis "$P" 1 -q slice create -f "$(ring_spec t100a)"
	testbed_trellis "$P" 1 -q slice delete t100a
	# desired state written by hand under another name than its spec's is refused by the node
	ectl put /trellis/slices/t100d '{"spec": "slice: t100e\nrouters:\n  a: { node: t100n1, template: plain }\n", "filename": "x.yaml", "nodes": ["t100n1"], "placement": {"nodes": {}, "keys": {}}}'
	wait_for 10 eval 'ectl get /trellis/status/t100d/t100n1 --print-value-only | grep -q failed'
	ectl get /trellis/status/t100d/t100n1 --print-value-only | grep -q "describes slice 't100e'"
	ectl del /trellis/slices/t100d
	wait_for 10 eval '[ -z "$(ectl get --prefix /trellis/status/t100d/ --keys-only)" ]'
	[ "$(testbed_trellis "$P" 1 --json slice list | jq '.slices | length')" = 0 ]
}

@test "node: any spreads routers over the nodes by their router count; no node: means the node asked" {
	f="$(testbed_dir "$P")/t100c.yaml"
	cat >"$f" <<EOS
slice: t100c
routers:
  a: { node: any, template: plain }
  b: { node: any, template: plain }
  c: { node: any, template: plain }
  d: { template: plain }
links:
  - endpoints: [a:eth1, b:eth1]
    ipv4: [10.9.1.1/24, 10.9.1.2/24]
  - endpoints: [b:eth2, c:eth1]
    ipv4: [10.9.2.2/24, 10.9.2.3/24]
EOS
	run testbed_trellis "$P" 1 slice create -f "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	# every node is empty now: one router each; d (no node:) on the node the spec was given to
	placed=""
	for i in 1 2 3; do
		n=$(testbed_trellis "$P" "$i" --json slice show t100c | jq '[.routers[] | select(.state == "running")] | length')
		placed="$placed$n"
	done
	[ "$placed" = 211 ]
	# the chosen nodes are in the desired state, and the links work across them
	[ "$(ectl get /trellis/slices/t100c --print-value-only | jq -r '.placement.routers | [.[]] | sort | join(",")')" = "t100n1,t100n1,t100n2,t100n3" ]
	[ "$(ectl get /trellis/slices/t100c --print-value-only | jq -r '.placement.routers.d')" = t100n1 ]
	nb=$(ectl get /trellis/slices/t100c --print-value-only | jq -r '.placement.routers.b')
	testbed_trellis "$P" "${nb#t100n}" slice exec t100c b -- ping -c 2 -i 0.2 -W 2 10.9.1.1
	testbed_trellis "$P" "${nb#t100n}" slice exec t100c b -- ping -c 2 -i 0.2 -W 2 10.9.2.3
	tc_cluster -q slice delete t100c
	for i in 1 2 3; do refute_links "$P-n$i" "t100c\."; done
}

@test "etcd restarting does not disturb running slices; nothing is lost" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t100b 1 2)"
	etcd_stop
	# no etcd: forwarding goes on, the nodes keep their slices
	run testbed_trellis "$P" 1 slice exec t100b a -- ping -c 3 -i 0.2 -W 2 10.9.0.2
	[ "$status" -eq 0 ]
	run testbed_trellis "$P" 1 slice create -f "$(pair_spec t100c 1 3)"
	[ "$status" -ne 0 ]
	[[ "$output" == *"etcd at 'http://$ETCD_ADDR:2379' is unreachable"* ]]
	sleep 3
	etcd_start
	# the nodes come back (lease renewed or re-registered) and the slice is still there, untouched
	wait_for 20 eval '[ "$(testbed_trellis "$P" 1 --json node list | jq "[.nodes[] | select(.state == \"up\")] | length")" = 3 ]'
	[ "$(tc_cluster --json slice list | jq -r '.slices[].name')" = t100b ]
	run testbed_trellis "$P" 2 --json slice show t100b
	[ "$(echo "$output" | jq -r '.routers[] | select(.name == "b") | .state')" = running ]
	run testbed_trellis "$P" 1 slice exec t100b a -- ping -c 2 -i 0.2 -W 2 10.9.0.2
	[ "$status" -eq 0 ]
	testbed_trellis "$P" 1 -q slice delete t100b
	refute_links "$P-n2" "t100b\."
	# etcd restarting while a create waits for the nodes: the create goes on and succeeds
	kill -STOP "$(cat "$(testbed_dir "$P")/n2/trellisd.pid")"
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t100c 1 2)" >"$(testbed_dir "$P")/oc" 2>&1 &
	pc=$!
	wait_for 20 eval 'ectl get /trellis/status/t100c/t100n1 --print-value-only | grep -q ready'
	etcd_stop
	sleep 1
	etcd_start
	kill -CONT "$(cat "$(testbed_dir "$P")/n2/trellisd.pid")"
	sc=0
	wait $pc || sc=$?
	cat "$(testbed_dir "$P")/oc"
	[ "$sc" -eq 0 ]
	testbed_trellis "$P" 2 slice exec t100c b -- ping -c 2 -i 0.2 -W 2 10.9.0.1
	testbed_trellis "$P" 1 -q slice delete t100c
}

@test "a node that dies is shown down, links to it go down, neighbours reconverge; it returns, the slice is whole" {
	testbed_trellis "$P" 1 -q slice create -f "$(ring_spec t100a)"
	wait_for 60 route_via 1 r1 10.255.0.3
	# node 3 dies: its daemon, and its wire to the substrate
	testbed_daemon_stop "$P" 3 KILL
	ip -n "$P-n3" link set eth0 down
	wait_for 25 eval '[ "$(testbed_trellis "$P" 1 --json node list | jq -r ".nodes[] | select(.name == \"t100n3\") | .state")" = down ]'
	run testbed_trellis "$P" 1 node list
	[[ "$output" == *"t100n3"*"down"* ]]
	# node 2 puts its half of the link to node 3 down: r2 loses r3's routes, and so does r1
	wait_for 10 eval '[ "$(testbed_trellis "$P" 2 --json slice show t100a | jq -r ".links[] | select(.name == \"r2:eth2-r3:eth1\") | .state")" = "down (node t100n3 away)" ]'
	wait_for 20 eval '! testbed_trellis "$P" 1 slice exec t100a r1 -- ip -4 route show 10.255.0.3 | grep -q ospf'
	# the rest of the slice still works
	testbed_trellis "$P" 1 slice exec t100a r1 -- ping -c 2 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.2
	# a slice that needs the dead node is refused before anything is written
	run testbed_trellis "$P" 1 slice create -f "$(pair_spec t100c 1 3)"
	[ "$status" -ne 0 ]
	[[ "$output" == *"node 't100n3' is not up in the cluster"* ]]
	# node 3 returns: up, the link comes back, OSPF reconverges end to end
	ip -n "$P-n3" link set eth0 up
	ip -n "$P-n3" route replace default via 198.18.3.1
	testbed_daemon "$P" 3 --cluster "$URL"
	[ "$(testbed_trellis "$P" 1 --json node list | jq -r '.nodes[] | select(.name == "t100n3") | .state')" = up ]
	wait_for 10 eval '[ "$(testbed_trellis "$P" 2 --json slice show t100a | jq -r ".links[] | select(.name == \"r2:eth2-r3:eth1\") | .state")" = up ]'
	wait_for 60 route_via 1 r1 10.255.0.3
	wait_for 60 route_via 3 r3 10.255.0.1
	wait_for 20 testbed_trellis "$P" 3 slice exec t100a r3 -- ping -c 1 -W 1 -I 10.255.0.3 10.255.0.1
	run testbed_trellis "$P" 3 slice exec t100a r3 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.3 10.255.0.1
	[ "$status" -eq 0 ]
	testbed_trellis "$P" 1 -q slice delete t100a
	for i in 1 2 3; do refute_links "$P-n$i" "t100a\."; done
}

@test "a slice deleted while a node is away is torn down there when it returns" {
	testbed_trellis "$P" 1 -q slice create -f "$(pair_spec t100b 1 3)"
	ip -n "$P-n3" -o link show | grep -q "t100b\."
	testbed_daemon_stop "$P" 3 KILL
	# the delete waits for node 3 only while its lease lives
	run timeout 60 "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" slice delete t100b
	[ "$status" -eq 0 ]
	refute_links "$P-n1" "t100b\."
	# node 3 still has its part (no daemon), until it comes back and reconciles
	ip -n "$P-n3" -o link show | grep -q "t100b\."
	testbed_daemon "$P" 3 --cluster "$URL"
	wait_for 20 eval '[ "$(testbed_trellis "$P" 3 --json slice list | jq ".slices | length")" = 0 ]'
	refute_links "$P-n3" "t100b\."
	[ -z "$(ectl get --prefix /trellis/status/t100b/ --keys-only)" ]
}

@test "many concurrent creates, from nodes and from clients of etcd: distinct keys, all ready" {
	d=$(testbed_dir "$P")
	for s in t100b t100c; do pair_spec "$s" 1 2 >/dev/null; done
	sed 's/^slice: t100b/slice: t100d/' "$d/t100b.yaml" >"$d/t100d.yaml"
	sed 's/^slice: t100b/slice: t100e/; s/10\.9\.0\./10.9.5./g' "$d/t100b.yaml" >"$d/t100e.yaml"
	testbed_trellis "$P" 1 -q slice create -f "$d/t100b.yaml" &
	p1=$!
	testbed_trellis "$P" 2 -q slice create -f "$d/t100c.yaml" &
	p2=$!
	tc_cluster -q slice create -f "$d/t100d.yaml" &
	p3=$!
	tc_cluster -q slice create -f "$d/t100e.yaml" &
	p4=$!
	wait $p1
	wait $p2
	wait $p3
	wait $p4
	keys=$(for s in t100b t100c t100d t100e; do node_keys 1 "$s"; done | sort)
	[ "$(echo "$keys" | wc -l)" = 4 ]
	[ "$(echo "$keys" | uniq | wc -l)" = 4 ]
	[ "$(tc_cluster --json slice list | jq '[.slices[] | select(.status | [.[]] | all(. == "ready"))] | length')" = 4 ]
	for s in t100b t100c t100d t100e; do tc_cluster -q slice delete "$s"; done
	[ -z "$(ectl get --prefix /trellis/slices/ --keys-only)" ]
}
