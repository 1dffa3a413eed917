#!/usr/bin/env bats
# Cluster placement: 'placement: each-node' (PlanetLab's sliver per site).
# etcd runs in the substrate router namespace on 198.18.1.1 as in
# 100-cluster.bats; three emulated nodes run trellisd --cluster.  A spec's
# routers are a template sliver: router R becomes R-NODE on every live node.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t101
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"

# Slices this file creates.  u1 is short so that its sliver's host interface
# names (u1.a-t101n1.e1) fit in 15 characters; every name it makes is in
# this file's node namespaces, state dirs and t101n* cgroups.
SLICES="t101a t101b u1 t101c t101d t101e t101f t101g t101h t101i"

setup_file() {
	require_root
	cluster_up 3
}

teardown_file() {
	local d
	d=$(testbed_dir "$P")
	[ -d "$d" ] || return 0
	for s in $SLICES; do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
	cluster_testbed_down 3
}

teardown() {
	for s in $SLICES; do
		testbed_trellis "$P" 1 -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

running_routers() { # node slice
	testbed_trellis "$P" "$1" --json slice show "$2" | jq -r '[.routers[] | select(.state == "running") | .name] | sort | join(",")'
}

@test "each-node: a one-router sliver becomes one router per node, named router-node" {
	f="$(testbed_dir "$P")/t101a.yaml"
	cat >"$f" <<EOS
slice: t101a
placement: each-node
routers:
  r:
    template: plain
    loopback: [10.255.1.1/32]
EOS
	run testbed_trellis "$P" 2 slice create -f "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	for i in 1 2 3; do
		[ "$(running_routers "$i" t101a)" = "r-t101n$i" ]
		# slice show from each node lists its router on that node, running
		[ "$(testbed_trellis "$P" "$i" --json slice show t101a | jq -r ".routers[] | select(.name == \"r-t101n$i\") | .node")" = "t101n$i" ]
		testbed_trellis "$P" "$i" slice exec t101a "r-t101n$i" -- ip -4 addr show dev lo | grep -q 10.255.1.1/32
	done
	# the desired state names the nodes it was expanded over, sorted
	[ "$(ectl get /trellis/slices/t101a --print-value-only | jq -r '.placement."each-node" | join(",")')" = "t101n1,t101n2,t101n3" ]
	[ "$(tc_cluster --json slice list | jq -r '.slices[] | select(.name == "t101a") | .nodes | sort | join(",")')" = "t101n1,t101n2,t101n3" ]
	# delete from another node: gone everywhere
	testbed_trellis "$P" 3 -q slice delete t101a
	for i in 1 2 3; do
		run testbed_trellis "$P" "$i" slice show t101a
		[ "$status" -ne 0 ]
	done
}

@test "each-node: links inside the sliver are copied per node and work on each" {
	f="$(testbed_dir "$P")/u1.yaml"
	cat >"$f" <<EOS
slice: u1
placement: each-node
routers:
  a: { template: plain }
  b: { template: plain }
links:
  - endpoints: [a:e1, b:e1]
    ipv4: [10.9.0.1/24, 10.9.0.2/24]
EOS
	run testbed_trellis "$P" 1 slice create -f "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	for i in 1 2 3; do
		[ "$(running_routers "$i" u1)" = "a-t101n$i,b-t101n$i" ]
		# a same-node link on every node, no tunnel
		[ "$(testbed_trellis "$P" "$i" --json slice show u1 | jq -r '[.links[] | select(.kind == "local")] | length')" -ge 1 ]
		testbed_trellis "$P" "$i" slice exec u1 "a-t101n$i" -- ping -c 2 -i 0.2 -W 2 10.9.0.2
	done
	tc_cluster -q slice delete u1
	for i in 1 2 3; do refute_links "$P-n$i" "u1\."; done
}

@test "each-node: node: in a router is refused with its position; names that would not fit are refused before anything is written" {
	f="$(testbed_dir "$P")/t101b.yaml"
	printf 'slice: t101b\nplacement: each-node\nrouters:\n  r: {node: t101n1}\n' >"$f"
	run testbed_trellis "$P" 1 slice create -f "$f"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"t101b.yaml:4:7: routers.r.node: not allowed with placement: each-node"* ]]
	printf 'slice: t101b\nplacement: everywhere\nrouters:\n  r: {}\n' >"$f"
	run testbed_trellis "$P" 1 slice create -f "$f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"t101b.yaml:2:12: placement: unknown placement 'everywhere' (each-node, spread or pack)"* ]]
	# router-node longer than 15 characters
	printf 'slice: t101b\nplacement: each-node\nrouters:\n  router123: {template: plain}\n' >"$f"
	run testbed_trellis "$P" 1 slice create -f "$f"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"t101b.yaml:4:3: routers.router123: placement: each-node names it 'router123-t101n1' on node 't101n1', longer than 15 characters"* ]]
	# host interface t101b.a-t101n1.eth1 is 19 characters
	printf 'slice: t101b\nplacement: each-node\nrouters:\n  a: {template: plain}\n  b: {template: plain}\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n' >"$f"
	run testbed_trellis "$P" 1 slice create -f "$f"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"links[0].endpoints[0]: placement: each-node: host interface name 't101b.a-t101n1.eth1' on node 't101n1' would be 19 characters; IFNAMSIZ allows 15"* ]]
	[ -z "$(ectl get --prefix /trellis/slices/ --keys-only)" ]
	for i in 1 2 3; do refute_links "$P-n$i" "t101b\."; done
}

@test "each-node: a node not in cluster mode refuses it" {
	f="$(testbed_dir "$P")/t101b.yaml"
	printf 'slice: t101b\nplacement: each-node\nrouters:\n  r: {template: plain}\n' >"$f"
	testbed_daemon_stop "$P" 3
	testbed_daemon "$P" 3
	run testbed_trellis "$P" 3 slice create -f "$f"
	echo "$output"
	testbed_daemon_stop "$P" 3
	testbed_daemon "$P" 3 --cluster "$URL"
	[ "$status" -ne 0 ]
	[[ "$output" == *"t101b.yaml: placement: each-node needs cluster mode"* ]]
	run testbed_trellis "$P" 3 slice show t101b
	[ "$status" -ne 0 ]
	[[ "$output" == *"no slice 't101b'"* ]]
}

# Wait until node $1 registers $2 routers.
wait_routers() {
	for _ in $(seq 100); do
		[ "$(ectl get "/trellis/nodes/t101n$1" --print-value-only | jq .routers)" = "$2" ] && return 0
		sleep 0.1
	done
	ectl get "/trellis/nodes/t101n$1" --print-value-only >&2
	return 1
}

placed() { # slice: the nodes its placed routers went to, sorted
	ectl get "/trellis/slices/$1" --print-value-only | jq -r '.placement.routers | [.[]] | sort | join(",")'
}

# create_placed I SLICE NODES: SLICE (from its .yaml in the testbed dir),
# created through node I, has its routers placed on NODES (sorted, comma-separated)
create_placed() {
	run testbed_trellis "$P" "$1" slice create -f "$(testbed_dir "$P")/$2.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(placed "$2")" = "$3" ]
}

# create_refused SLICE GLOB: the create is refused with a message matching
# GLOB (its * match anything), before anything is written to etcd
create_refused() {
	run testbed_trellis "$P" 1 slice create -f "$(testbed_dir "$P")/$1.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *$2* ]]
	[ -z "$(ectl get "/trellis/slices/$1" --keys-only)" ]
}

@test "placement: pack fills the busiest node, spread the emptiest; pack refuses a router no node has CPU for" {
	d=$(testbed_dir "$P")
	# every node registers its online CPUs and load average
	[ "$(ectl get /trellis/nodes/t101n1 --print-value-only | jq .cpus)" = "$(nproc)" ]
	ectl get /trellis/nodes/t101n1 --print-value-only | jq -e '.load | type == "number"'
	run testbed_trellis "$P" 1 node list
	[[ "$output" == *"CPUS"*"LOAD"* ]]
	[ "$(testbed_trellis "$P" 1 --json node list | jq -r '.nodes[] | select(.name == "t101n3") | .cpus')" = "$(nproc)" ]
	printf 'slice: t101c\nrouters:\n  x: {node: t101n2, template: plain}\n  y: {node: t101n2, template: plain}\n' >"$d/t101c.yaml"
	testbed_trellis "$P" 1 -q slice create -f "$d/t101c.yaml"
	wait_routers 2 2
	wait_routers 1 0
	# pack: both routers (no node:, so the cluster places them) join the node that has the most
	printf 'slice: t101d\nplacement: pack\nrouters:\n  p1: {template: plain}\n  p2: {template: plain}\n' >"$d/t101d.yaml"
	create_placed 1 t101d t101n2,t101n2
	[ "$(running_routers 2 t101d)" = "p1,p2" ]
	wait_routers 2 4
	# spread: the two empty nodes, one each (n2 runs 4 now)
	printf 'slice: t101e\nplacement: spread\nrouters:\n  s1: {template: plain}\n  s2: {template: plain}\n' >"$d/t101e.yaml"
	create_placed 2 t101e t101n1,t101n3
	[ "$(running_routers 1 t101e)$(running_routers 3 t101e)" = "s1s2" ] ||
		[ "$(running_routers 1 t101e)$(running_routers 3 t101e)" = "s2s1" ]
	testbed_trellis "$P" 1 -q slice delete t101e
	# pack: a router needing more CPU than any node has free is refused, nothing written
	printf 'slice: t101e\nplacement: pack\nrouters:\n  big: {template: plain, limits: {cpu: 1000}}\n' >"$d/t101e.yaml"
	create_refused t101e "routers.big: placement: pack: no node has 1000 free CPU for it"
}

@test "placement weighs bandwidth: routers go where their links' rates fit; one no node has room for is refused" {
	d=$(testbed_dir "$P")
	# t101c holds 9gbit on n1 and n2 (its cross-node link's class on each substrate)
	printf 'slice: t101c\nbandwidth: 9gbit\nrouters:\n  x: {node: t101n1, template: plain}\n  y: {node: t101n2, template: plain}\nlinks:\n  - endpoints: [x:eth1, y:eth1]\n' >"$d/t101c.yaml"
	testbed_trellis "$P" 1 -q slice create -f "$d/t101c.yaml"
	# each node registers what a new slice could still be guaranteed there:
	# n1, n2 10gbit - 2% for the host - 9gbit - t101c's = 800mbit; n3 9.8gbit
	bw_free() { ectl get "/trellis/nodes/t101n$1" --print-value-only | jq .bw_free; }
	wait_for 15 eval '[ "$(bw_free 1)" -lt 1000000000 ] && [ "$(bw_free 2)" -lt 1000000000 ]'
	echo "# bw_free: n1 $(bw_free 1), n2 $(bw_free 2), n3 $(bw_free 3)" >&3
	[ "$(bw_free 3)" -gt 9000000000 ]
	run testbed_trellis "$P" 1 node list
	[[ "$output" == *"BW FREE"* ]]
	# pack would join the busiest nodes (n1 and n2 run a router each, n3 none),
	# but each router's link needs 1gbit guaranteed: only n3 has it
	printf 'slice: t101d\nplacement: pack\nrouters:\n  p1: {template: plain}\n  p2: {template: plain}\nlinks:\n  - endpoints: [p1:eth1, p2:eth1]\n    rate: 1gbit\n' >"$d/t101d.yaml"
	create_placed 1 t101d t101n3,t101n3
	# links no node could guarantee: refused before anything is written
	printf 'slice: t101e\nplacement: spread\nrouters:\n  q1: {template: plain}\n  q2: {template: plain}\nlinks:\n  - endpoints: [q1:eth1, q2:eth1]\n    rate: 9900mbit\n' >"$d/t101e.yaml"
	create_refused t101e "routers.q1: placement: no node has * free bandwidth for its links"
	# a slice bandwidth: is needed once per node that gets a router: only n3
	# has 2gbit; its second router needs nothing more there
	printf 'slice: t101h\nplacement: spread\nbandwidth: 2gbit\nrouters:\n  h1: {template: plain}\n  h2: {template: plain}\nlinks:\n  - endpoints: [h1:eth1, h2:eth1]\n' >"$d/t101h.yaml"
	create_placed 1 t101h t101n3,t101n3
	printf 'slice: t101i\nbandwidth: 9900mbit\nrouters:\n  i1: {node: any, template: plain}\n' >"$d/t101i.yaml"
	create_refused t101i "routers.i1: placement: no node has * free bandwidth for the slice's bandwidth"
}

@test "placement weighs disk: each node registers what its state directory can still hold; a rootfs no node has room for is refused" {
	d=$(testbed_dir "$P")
	disk_free() { ectl get "/trellis/nodes/t101n$1" --print-value-only | jq .disk_free; }
	# the nodes' state directories share this host's file system: free space less the 64M admission keeps
	df_free=$(( $(stat -f -c '%a * %S' "$d" ) ))
	for n in 1 2 3; do
		f=$(disk_free $n)
		echo "# disk_free n$n: $f (df of the state dir's file system: $df_free)" >&3
		[ "$f" -gt 0 ]
		# within 5% of free space less 64M (other tests and logs write meanwhile)
		[ $(( f - (df_free - 67108864) )) -lt $(( df_free / 20 )) ]
		[ $(( (df_free - 67108864) - f )) -lt $(( df_free / 20 )) ]
	done
	run testbed_trellis "$P" 1 node list
	[[ "$output" == *"DISK FREE"* ]]
	# more than any node has: refused before anything is written, naming the router and the size
	printf 'slice: t101f\nplacement: spread\nrouters:\n  big: {template: plain, limits: {disk: 1T}}\n' >"$d/t101f.yaml"
	create_refused t101f "routers.big: placement: no node has 1T free disk for its rootfs"
	# routers placed so far count: three of 60% of a node's free disk take one node each, a fourth fits nowhere
	part=$(( ($(disk_free 1) * 6 / 10) >> 20 ))M
	printf 'slice: t101g\nplacement: pack\nrouters:\n' >"$d/t101g.yaml"
	for g in 1 2 3 4; do printf '  g%d: {template: plain, limits: {disk: %s}}\n' "$g" "$part" >>"$d/t101g.yaml"; done
	create_refused t101g "routers.g4: placement: no node has $part free disk for its rootfs"
}

@test "uid ranges come from etcd: one range per slice, the same on every node, freed with the slice" {
	for s in t101d t101e; do
		cat >"$(testbed_dir "$P")/$s.yaml" <<EOS
slice: $s
placement: each-node
routers:
  r: {template: plain}
EOS
	done
	# two creates at once, from two nodes
	testbed_trellis "$P" 1 -q slice create -f "$(testbed_dir "$P")/t101d.yaml" &
	c1=$!
	testbed_trellis "$P" 3 -q slice create -f "$(testbed_dir "$P")/t101e.yaml" &
	c2=$!
	wait "$c1"
	wait "$c2"
	d=$(ectl get /trellis/slices/t101d --print-value-only | jq '.placement.uid_index')
	e=$(ectl get /trellis/slices/t101e --print-value-only | jq '.placement.uid_index')
	[ "$d" -ge 1 ] && [ "$e" -ge 1 ]
	[ "$d" != "$e" ]
	[ "$(ectl get "/trellis/alloc/uid/$d" --print-value-only)" = t101d ]
	[ "$(ectl get "/trellis/alloc/uid/$e" --print-value-only)" = t101e ]
	# every node uses the range the cluster gave the slice
	for s in t101d t101e; do
		bases=$(for i in 1 2 3; do testbed_trellis "$P" "$i" --json slice show "$s" | jq .uid_base; done | sort -u | wc -l)
		[ "$bases" -eq 1 ]
	done
	[ "$(testbed_trellis "$P" 2 --json slice show t101d | jq .uid_base)" != "$(testbed_trellis "$P" 2 --json slice show t101e | jq .uid_base)" ]
	tc_cluster -q slice delete t101d
	[ -z "$(ectl get "/trellis/alloc/uid/$d" --print-value-only)" ]
	[ "$(ectl get "/trellis/alloc/uid/$e" --print-value-only)" = t101e ]
	tc_cluster -q slice delete t101e
	[ -z "$(ectl get /trellis/alloc/uid/ --prefix --keys-only)" ]
}
