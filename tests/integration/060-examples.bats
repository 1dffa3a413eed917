#!/usr/bin/env bats
# Every example in examples/ deploys and routes: adjacencies Full / sessions
# Established, routes in the kernel, and a ping from one end of the slice to
# the other.  (FRR installs routes a few seconds after adjacency: wait for
# routes, not just for neighbours.)  examples/bgp-mixed.yaml (FRR and BIRD)
# is deployed by 065-bird.bats.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	for s in t6pair t6ring t6tri; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

route_via() { # slice router prefix proto
	trellis slice exec "$1" "$2" -- ip -4 route show "$3" | grep -q "proto $4"
}

@test "examples/ospf-pair.yaml: OSPF Full, loopbacks routed, ping" {
	trellis -q slice create -f "$(example_as ospf-pair.yaml t6pair)"
	wait_for 60 eval '[ "$(ospf_full_count t6pair r1)" -ge 1 ]'
	wait_for 60 route_via t6pair r1 10.255.0.2 ospf
	wait_for 60 route_via t6pair r2 10.255.0.1 ospf
	run trellis slice exec t6pair r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.2
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	# config-file: was honoured for r2
	run trellis slice exec t6pair r2 -- vtysh -c "show running-config"
	[[ "$output" == *"router-id 10.255.0.2"* ]]
	trellis slice delete t6pair
	assert_no_leftovers t6pair
}

@test "examples/ospf-ring.yaml: four routers, every adjacency Full, ping across the ring" {
	trellis -q slice create -f "$(example_as ospf-ring.yaml t6ring)"
	for r in r1 r2 r3 r4; do
		wait_for 60 eval '[ "$(ospf_full_count t6ring '$r')" -ge 2 ]'
	done
	# every router has every other loopback: r1 -> r3 is ECMP through r2
	# and r4, and the way back too, so all four must have converged
	for a in 1 2 3 4; do
		for n in 1 2 3 4; do
			[ "$a" = "$n" ] || wait_for 60 route_via t6ring r$a 10.255.0.$n ospf
		done
	done
	# r3 is the far side of the ring from r1
	run trellis slice exec t6ring r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	# the shaped link really has a qdisc with its rate on both host ends
	rated=$(trellis --json slice show t6ring | jq -r '.links[] | select(.rate > 0) | .hosts[]')
	[ -n "$rated" ]
	for h in $rated; do
		tc qdisc show dev "$h" | grep -q "htb 1:"
	done
	trellis slice delete t6ring
	assert_no_leftovers t6ring
}

@test "examples/bgp-triangle.yaml: eBGP sessions Established, loopbacks learned, ping" {
	trellis -q slice create -f "$(example_as bgp-triangle.yaml t6tri)"
	for r in r1 r2 r3; do
		wait_for 90 eval '[ "$(vtysh_in t6tri '$r' "show bgp summary json" | jq "[.ipv4Unicast.peers[] | select(.state == \"Established\")] | length")" -eq 2 ]'
	done
	wait_for 60 route_via t6tri r1 10.255.0.2 bgp
	wait_for 60 route_via t6tri r1 10.255.0.3 bgp
	wait_for 60 route_via t6tri r2 10.255.0.3 bgp
	wait_for 60 route_via t6tri r3 10.255.0.2 bgp
	run trellis slice exec t6tri r2 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.2 10.255.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	trellis slice delete t6tri
	assert_no_leftovers t6tri
}
