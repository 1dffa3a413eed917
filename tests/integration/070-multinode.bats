#!/usr/bin/env bats
# Multi-node slices over emulated substrate nodes (network namespaces routed
# through a substrate router namespace), each node with its own trellisd:
# EGRE on the wire, OSPF across nodes, counters, forwarding without the
# daemon, rollback on every node, fallbacks.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"

P=t7

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
	tb -q slice delete t7s >/dev/null 2>&1 || true
	tb -q slice delete t7v >/dev/null 2>&1 || true
	ip -n "$P-n1" route del 198.18.2.2/32 2>/dev/null || true
	ip -n "$P-sw" addr del 198.18.1.254/24 dev "$P-w1" 2>/dev/null || true
}

# The substrate next hops (IPv4) in node I's tunnel entries, sorted and unique.
tunnel_nhs() { # I
	bpftool -j map dump pinned "/sys/fs/bpf/trellis/${P}n$1/fp_ports" |
		jq -r '[.[].formatted.value | select((.flags / 2 | floor) % 2 == 1)
			| .nh[0:4] | map(tostring) | join(".")] | unique | join(" ")'
}

ring_spec() { # name [tunnel]
	local f
	f="$(testbed_dir "$P")/$1.yaml"
	{
		echo "slice: $1"
		echo "${2:+tunnel: $2}"
		echo "routers:"
		ospf_router r1 "${P}n1" 1 eth1 eth2
		ospf_router r2 "${P}n2" 2 eth1 eth2
		ospf_router r3 "${P}n3" 3 eth1
		cat <<EOS
  r4:
    node: ${P}n1
    template: plain
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.2/24, 10.0.23.3/24]
  - endpoints: [r1:eth2, r4:eth1]
    ipv4: [10.0.14.1/24, 10.0.14.4/24]
EOS
	} >"$f"
	echo "$f"
}

route_via() { # router prefix
	tb slice exec t7s "$1" -- ip -4 route show "$2" | grep -q "proto ospf"
}

@test "a 3-node slice converges with OSPF and pings end to end; same-node and cross-node links mixed" {
	tb -q slice create -f "$(ring_spec t7s)"
	run tb --json slice show t7s
	[ "$status" -eq 0 ]
	kinds=$(echo "$output" | jq -r '.nodes[].links[] | select(.kind != "remote") | .kind' | sort | uniq -c | tr -s ' ')
	[[ "$kinds" == *"4 egre"* ]]   # each cross-node link has a half on two nodes
	[[ "$kinds" == *"1 local"* ]]
	wait_for 60 route_via r1 10.255.0.3
	wait_for 60 route_via r3 10.255.0.1
	# r2 in the middle forwards both ways
	wait_for 60 route_via r2 10.255.0.1
	wait_for 60 route_via r2 10.255.0.3
	run tb slice exec t7s r3 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.3 10.255.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	# r4 (plain, same node as r1) is reached over the local link
	run tb slice exec t7s r1 -- ping -c 2 -i 0.2 -W 2 10.0.14.4
	[ "$status" -eq 0 ]
	# the same deployment named by a nodes file
	nf="$(testbed_dir "$P")/nodes.txt"
	{
		echo "# name socket"
		for i in 1 2 3; do echo "$(testbed_node_name "$P" "$i") $(testbed_sock "$P" "$i")"; done
	} >"$nf"
	run "$TRELLIS_BIN" --nodes "$nf" --json slice list
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '[.slices[] | select(.name == "t7s")] | length')" = 3 ]
	# router interfaces on cross-node links get the substrate MTU - 42
	run tb slice exec t7s r2 -- cat /sys/class/net/eth1/mtu
	[ "$output" = 1458 ]
	run tb slice exec t7s r1 -- cat /sys/class/net/eth2/mtu
	[ "$output" = 1500 ]
}

@test "TCP across a tunnel and through a router from one tunnel into another (GSO kept correct)" {
	command -v iperf3 >/dev/null || skip "iperf3 not installed"
	tb -q slice create -f "$(ring_spec t7s)"
	wait_for 60 route_via r3 10.255.0.1
	wait_for 60 route_via r1 10.255.0.3
	tb slice exec t7s r1 -- iperf3 -s -1 -D -B 10.255.0.1
	sleep 0.5
	# r3 (node 3) -> r2 (node 2) -> r1 (node 1): two tunnels, r2 forwards between them
	run tb slice exec t7s r3 -- iperf3 -c 10.255.0.1 -B 10.255.0.3 -n 64M -J
	echo "$output" | jq -c '{error, received: .end.sum_received.bytes, sent: .end.sum_sent.bytes, retransmits: .end.sum_sent.retransmits}'
	[ "$status" -eq 0 ]
	# iperf3 -n stops counting at the receiver when the sender is done: most, not all
	[ "$(echo "$output" | jq '.end.sum_received.bytes')" -ge 50000000 ]
	# and straight over one tunnel, r2 -> r1
	tb slice exec t7s r1 -- iperf3 -s -1 -D -B 10.0.12.1
	sleep 0.5
	run tb slice exec t7s r2 -- iperf3 -c 10.0.12.1 -n 64M -J
	echo "$output" | jq -c '{error, received: .end.sum_received.bytes, sent: .end.sum_sent.bytes, retransmits: .end.sum_sent.retransmits}'
	[ "$status" -eq 0 ]
	# iperf3 -n stops counting at the receiver when the sender is done: what is
	# still queued (socket buffers, the substrate's class queue, up to 4M) is not
	# counted.  A stall would leave far less.
	[ "$(echo "$output" | jq '.end.sum_received.bytes')" -ge 50000000 ]
}

@test "frames on the substrate wire are GRE with the link key and protocol TEB carrying Ethernet" {
	command -v tcpdump >/dev/null || skip "tcpdump not installed"
	tb -q slice create -f "$(ring_spec t7s)"
	key=$(tb --json slice show t7s | jq -r '[.nodes[].links[] | select(.name == "r1:eth1-r2:eth1")][0].key')
	cap="$(testbed_dir "$P")/wire.txt"
	ip netns exec "$P-sw" timeout 8 tcpdump -l -nn -v -e -i "$P-w1" 'ip proto 47' >"$cap" 2>/dev/null &
	sleep 1
	tb slice exec t7s r1 -- ping -c 3 -i 0.2 -W 2 10.0.12.2 >/dev/null
	wait || true
	grep -B1 -A1 "ICMP echo" "$cap"
	grep -q "198.18.1.2 > 198.18.2.2: GREv0, Flags \[key present\], key=0x$(printf %x "$key"), proto TEB (0x6558)" "$cap"
	grep -q "10.0.12.1 > 10.0.12.2: ICMP echo request" "$cap"
	grep -q "10.0.12.2 > 10.0.12.1: ICMP echo reply" "$cap"
	# the outer header: DF set, TTL 64 on the sender's side of the wire, GRE protocol
	grep -q "ttl 64, id 0, offset 0, flags \[DF\], proto GRE (47)" "$cap"
}

@test "tunnel next hops: resolved at attach, and the daemon follows a substrate route change" {
	command -v bpftool >/dev/null || skip "bpftool not installed"
	tb -q slice create -f "$(ring_spec t7s)"
	# n1's one tunnel (r1-r2, to node 2) goes through n1's default gateway
	run tunnel_nhs 1
	[ "$output" = "198.18.1.1" ]
	# node 2 now through another gateway on the same wire: the daemon's route
	# watcher rewrites the entry, and frames still get through
	ip -n "$P-sw" addr add 198.18.1.254/24 dev "$P-w1"
	ip -n "$P-n1" route add 198.18.2.2/32 via 198.18.1.254
	for _ in $(seq 50); do
		[ "$(tunnel_nhs 1)" = "198.18.1.254" ] && break
		sleep 0.1
	done
	run tunnel_nhs 1
	[ "$output" = "198.18.1.254" ]
	tb slice exec t7s r1 -- ping -c 2 -i 0.2 -W 2 10.0.12.2 >/dev/null
	ip -n "$P-n1" neigh show 198.18.1.254 dev eth0 | grep -Eq "REACHABLE|STALE|DELAY|PROBE"
	grep -q "Route change: 1 tunnel next hop updated" "$(testbed_dir "$P")/n1/trellisd.log"
	# and back when the route goes
	ip -n "$P-n1" route del 198.18.2.2/32
	for _ in $(seq 50); do
		[ "$(tunnel_nhs 1)" = "198.18.1.1" ] && break
		sleep 0.1
	done
	run tunnel_nhs 1
	[ "$output" = "198.18.1.1" ]
}

@test "per-link counters: trellis slice stats, text and JSON" {
	tb -q slice create -f "$(ring_spec t7s)"
	tb slice exec t7s r1 -- ping -c 5 -i 0.2 -W 2 10.0.12.2 >/dev/null
	run tb --json slice stats t7s
	[ "$status" -eq 0 ]
	pk=$(echo "$output" | jq '[.nodes[].links[] | select(.name == "r1:eth1-r2:eth1") | .ports[].packets] | add')
	[ "$pk" -ge 10 ]
	run tb slice stats t7s
	[ "$status" -eq 0 ]
	[[ "$output" == *"r1:eth1-r2:eth1"* ]]
	[[ "$output" == *"egre"* ]]
}

@test "an unknown key on the substrate is counted and dropped" {
	command -v python3 >/dev/null || skip "python3 not installed"
	tb -q slice create -f "$(ring_spec t7s)"
	before=$(testbed_trellis "$P" 1 --json node show | jq '.fastpath_stats.unknown_key // 0')
	ip netns exec "$P-n2" python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
gre = struct.pack("!HHI", 0x2000, 0x6558, 999999)
frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x06" + b"\x00" * 46
for _ in range(5):
    s.sendto(gre + frame, ("198.18.1.2", 0))
PY
	sleep 0.5
	after=$(testbed_trellis "$P" 1 --json node show | jq '.fastpath_stats.unknown_key // 0')
	[ "$((after - before))" -ge 5 ]
}

@test "an oversize frame is counted as an MTU drop, never silently lost" {
	tb -q slice create -f "$(ring_spec t7s)"
	# the tenant raises its interface MTU past what the tunnel carries
	tb slice exec t7s r1 -- ip link set eth1 mtu 1500
	run tb slice exec t7s r1 -- ping -c 2 -W 1 -M do -s 1472 10.0.12.2
	[ "$status" -ne 0 ]
	run tb --json slice stats t7s
	drops=$(echo "$output" | jq '[.nodes[].links[] | select(.name == "r1:eth1-r2:eth1") | .ports[].drops_mtu // 0] | add')
	[ "$drops" -ge 2 ]
}

@test "killing trellisd does not stop forwarding; a new daemon adopts the fast path and deletes" {
	tb -q slice create -f "$(ring_spec t7s)"
	wait_for 60 route_via r3 10.255.0.1
	wait_for 60 route_via r1 10.255.0.3
	wait_for 60 route_via r2 10.255.0.1
	wait_for 60 route_via r2 10.255.0.3
	testbed_daemon_stop "$P" 1 KILL
	testbed_daemon_stop "$P" 2 KILL
	# no daemon on n1 and n2: r2 <-> r1 still forward (exec goes through n3's daemon... r3 pings r1)
	run testbed_trellis "$P" 3 slice exec t7s r3 -- ping -c 5 -i 0.2 -W 2 -I 10.255.0.3 10.255.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	testbed_daemon "$P" 1
	testbed_daemon "$P" 2
	tb -q slice delete t7s
	# nothing of the slice is left on any node: veths, map entries, containers
	for i in 1 2 3; do
		refute_links "$P-n$i" "t7s\."
	done
	# and no fast-path entry: ports and keys maps are empty on every node
	for i in 1 2 3; do
		pins="/sys/fs/bpf/trellis/$(testbed_node_name "$P" "$i")"
		[ "$(bpftool -j map dump pinned "$pins/fp_ports" | jq length)" = 0 ]
		[ "$(bpftool -j map dump pinned "$pins/fp_keys" | jq length)" = 0 ]
	done
	# a daemon that stops with no slice left takes its programs and pins with it
	testbed_daemon_stop "$P" 1
	[ ! -e "/sys/fs/bpf/trellis/$(testbed_node_name "$P" 1)" ]
	refute_output_of bpf tc -n "$P-n1" filter show dev eth0 ingress
	testbed_daemon "$P" 1
}

@test "a failure on one node rolls the slice back on every node" {
	# node 3 cannot take it: a leftover interface holds one of its names
	ip -n "$P-n3" link add t7s.r3.eth1 type dummy 2>/dev/null ||
		ip -n "$P-n3" link add t7s.r3.eth1 type veth peer name t7x
	run tb slice create -f "$(ring_spec t7s)"
	ip -n "$P-n3" link del t7s.r3.eth1
	[ "$status" -eq 5 ]
	[[ "$output" == *"node '${P}n3'"* ]]
	for i in 1 2 3; do
		run testbed_trellis "$P" "$i" --json slice list
		[ "$(echo "$output" | jq '.slices | length')" = 0 ]
		refute_links "$P-n$i" "t7s\."
	done
}

@test "fallback: VXLAN kernel devices when the slice asks for them" {
	run testbed_trellis "$P" 1 --json node show
	echo "$output" | jq -e '.tunnels | index("vxlan")' >/dev/null || skip "no vxlan on this kernel: $(echo "$output" | jq -r .tunnels_missing)"
	sed 's/^slice: t7s/slice: t7v/' "$(ring_spec t7s vxlan)" >"$(testbed_dir "$P")/t7v.yaml"
	tb -q slice create -f "$(testbed_dir "$P")/t7v.yaml"
	run tb --json slice show t7v
	[[ "$(echo "$output" | jq -r '[.nodes[].links[].kind] | unique | join(",")')" == *vxlan* ]]
	wait_for 60 eval 'tb slice exec t7v r1 -- ip -4 route show 10.255.0.3 | grep -q ospf'
	wait_for 60 eval 'tb slice exec t7v r3 -- ip -4 route show 10.255.0.1 | grep -q ospf'
	run tb slice exec t7v r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.3
	[ "$status" -eq 0 ]
	run tb slice exec t7v r2 -- cat /sys/class/net/eth1/mtu
	[ "$output" = 1450 ]
	tb -q slice delete t7v
	for i in 1 2 3; do
		refute_links "$P-n$i" "t7v\.|tv[0-9]"
	done
}

@test "fallback: kernel gretap where the GRE module exists" {
	run testbed_trellis "$P" 1 --json node show
	echo "$output" | jq -e '.tunnels | index("gretap")' >/dev/null ||
		skip "no gretap on this kernel: $(echo "$output" | jq -r .tunnels_missing)"
	sed 's/^slice: t7s/slice: t7v/' "$(ring_spec t7s gretap)" >"$(testbed_dir "$P")/t7v.yaml"
	tb -q slice create -f "$(testbed_dir "$P")/t7v.yaml"
	wait_for 60 eval 'tb slice exec t7v r1 -- ip -4 route show 10.255.0.3 | grep -q ospf'
	wait_for 60 eval 'tb slice exec t7v r3 -- ip -4 route show 10.255.0.1 | grep -q ospf'
	run tb slice exec t7v r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.3
	[ "$status" -eq 0 ]
}
