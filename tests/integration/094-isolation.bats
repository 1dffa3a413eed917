#!/usr/bin/env bats
# Shaping on the substrate of two emulated nodes (each trellisd declares
# --capacity 100mbit): a cross-node link's rate, a slice's guaranteed share
# while another slice floods far above its own, and admission against the
# node's capacity.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"

P=t94

setup_file() {
	require_root
	testbed_down "$P"
	testbed_up "$P" 2
	for i in 1 2; do
		testbed_daemon "$P" "$i" --capacity 100mbit
	done
}

teardown_file() {
	testbed_down "$P"
}

teardown() {
	for s in t94a t94b t94c t94l; do
		tb -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

# A slice with r1 on node 1 and r2 on node 2; $2: slice-level lines, $3: link lines.
cross_spec() {
	local f
	f="$(testbed_dir "$P")/$1.yaml"
	cat >"$f" <<EOS
slice: $1
$2
routers:
  r1: {template: plain, node: ${P}n1}
  r2: {template: plain, node: ${P}n2}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.94.$4.1/24, 10.94.$4.2/24]
$3
EOS
	echo "$f"
}

# Bytes router r2 of slice $1 (on node 2) received on eth1 so far, read in its namespace
# (decapsulated frames go straight into the router: the host end does not count them).
rx_bytes() {
	nsenter -t "$2" -n ip -s -j link show dev eth1 | jq '.[0].stats64.rx.bytes'
}

# Rate of frames into r2:eth1 of slice $1 over a steady window of $2 seconds.
steady_rate() {
	local pid b0 b1 t0 t1
	pid=$(testbed_trellis "$P" 2 --json slice show "$1" | jq '.routers[] | select(.name == "r2") | .pid')
	b0=$(rx_bytes "$1" "$pid")
	t0=$(date +%s.%N)
	sleep "$2"
	b1=$(rx_bytes "$1" "$pid")
	t1=$(date +%s.%N)
	echo "($b1 - $b0) * 8 / ($t1 - $t0)" | bc -l | cut -d. -f1
}

mbit() { printf %.1f "$(echo "$1/1000000" | bc -l)"; }

@test "a cross-node link at 20mbit delivers 20mbit +-5% (tenant frames, shaped on the substrate)" {
	tb -q slice create -f "$(cross_spec t94l "" "    rate: 20mbit" 1)"
	testbed_trellis "$P" 1 --json node show | jq -e '.substrate.capacity == 100000000'
	ip netns exec "$P-n1" tc class show dev eth0 | grep -q "rate 20Mbit"
	tb slice exec t94l r2 -- iperf3 -s -1 -D
	sleep 0.3
	tb slice exec t94l r1 -- iperf3 -c 10.94.1.2 -t 8 -J >"$BATS_TEST_TMPDIR/l.json" &
	client=$!
	sleep 2
	l2=$(steady_rate t94l 5)
	wait "$client"
	goodput=$(jq '.end.sum_received.bits_per_second' "$BATS_TEST_TMPDIR/l.json" | cut -d. -f1)
	echo "# cross-node link at 20mbit: $(mbit "$l2") Mbit/s of frames into r2, TCP goodput $(mbit "$goodput") Mbit/s" >&3
	[ "$l2" -ge 19000000 ]
	[ "$l2" -le 21000000 ]
	[ "$goodput" -ge 18000000 ]
	# the class of this link's direction on node 1, in the stats
	run testbed_trellis "$P" 1 --json slice stats t94l
	[ "$(jq -r ".links[0].directions[0].class" <<<"$output")" = "eth0 1:$(printf %x $((16 + $(jq ".links[0].key" <<<"$output"))))" ]
	# link down across nodes: each node takes its end down, both routers lose carrier
	tb -q link down t94l r1:eth1
	[ "$(tb slice exec t94l r1 -- cat /sys/class/net/eth1/carrier)" = 0 ]
	[ "$(tb slice exec t94l r2 -- cat /sys/class/net/eth1/carrier)" = 0 ]
	run tb slice exec t94l r1 -- ping -c 1 -W 1 10.94.1.2
	[ "$status" -ne 0 ]
	[[ "$output" == *"100% packet loss"* || "$output" == *"unreachable"* ]]
	tb -q link up t94l r2:eth1
	[ "$(tb slice exec t94l r2 -- cat /sys/class/net/eth1/carrier)" = 1 ]
	wait_for 10 tb slice exec t94l r1 -- ping -c 1 -W 1 10.94.1.2
}

@test "two slices share a substrate: B keeps >= 95% of its guaranteed rate while A floods" {
	tb -q slice create -f "$(cross_spec t94a "bandwidth: 30mbit" "" 1)"
	tb -q slice create -f "$(cross_spec t94b "bandwidth: 50mbit" "" 2)"
	tb slice exec t94a r2 -- iperf3 -s -1 -D -p 5201
	tb slice exec t94b r2 -- iperf3 -s -1 -D -p 5202
	sleep 0.3
	# A: UDP at 400mbit, far above its 30mbit (and the node's 100mbit)
	tb slice exec t94a r1 -- iperf3 -u -b 400M -l 1400 -c 10.94.1.2 -p 5201 -t 14 >/dev/null &
	flood=$!
	sleep 2
	tb slice exec t94b r1 -- iperf3 -c 10.94.2.2 -p 5202 -t 10 -J >"$BATS_TEST_TMPDIR/b.json" &
	victim=$!
	sleep 2
	a_rate=$(steady_rate t94a 3)
	b_rate=$(steady_rate t94b 3)
	wait "$victim"
	wait "$flood" || true
	b_goodput=$(jq '.end.sum_received.bits_per_second' "$BATS_TEST_TMPDIR/b.json" | cut -d. -f1)
	echo "# A (30mbit guaranteed) flooding 400mbit gets $(mbit "$a_rate") Mbit/s; B (50mbit guaranteed) gets $(mbit "$b_rate") Mbit/s of frames, $(mbit "$b_goodput") Mbit/s TCP goodput" >&3
	# B's frames: at least 95% of its 50mbit; TCP goodput (minus ~4.5% headers) close
	[ "$b_rate" -ge 47500000 ]
	[ "$b_goodput" -ge 45000000 ]
	# A is held near its share of the node: its 30mbit plus what it may borrow
	[ "$a_rate" -le 52000000 ]
	run testbed_trellis "$P" 1 --json slice stats t94a
	[ "$(jq '.links[0].directions[0].drops' <<<"$output")" -gt 0 ] || [ "$(jq '.links[0].directions[0].class' <<<"$output")" = '""' ]
}

@test "admission: guaranteed rates above a node's capacity are refused naming the numbers" {
	tb -q slice create -f "$(cross_spec t94a "bandwidth: 30mbit" "" 1)"
	tb -q slice create -f "$(cross_spec t94b "bandwidth: 50mbit" "" 2)"
	run tb slice create -f "$(cross_spec t94c "bandwidth: 30mbit" "" 3)"
	[ "$status" -eq 9 ]
	[[ "$output" == *"slice 't94c' needs 30Mbit guaranteed on node 't94n"*"but other slices hold 80Mbit of the 98Mbit available (capacity 100Mbit"* ]]
	for i in 1 2; do
		refute_links "$P-n$i" t94c
	done
	# the slice's share changes in place; too much is refused and changes nothing
	run tb slice set t94a --bandwidth 60mbit
	[ "$status" -eq 9 ]
	[[ "$output" == *"needs 60Mbit guaranteed"*"other slices hold 50Mbit"* ]]
	ip netns exec "$P-n1" tc class show dev eth0 | grep -q "rate 30Mbit ceil 30Mbit"
	tb -q slice set t94a --bandwidth 45mbit --ceil 60mbit
	for i in 1 2; do
		ip netns exec "$P-n$i" tc class show dev eth0 | grep -q "rate 45Mbit ceil 60Mbit"
	done
	[ "$(testbed_trellis "$P" 2 --json slice show t94a | jq '.bandwidth.rate')" -eq 45000000 ]
	run tb slice set t94a --ceil 10mbit
	[ "$status" -eq 3 ]
	[[ "$output" == *"ceil: 10Mbit is below the bandwidth 45Mbit"* ]]
	tb -q slice set t94a --bandwidth 30mbit --ceil none
	# a link of A may not be guaranteed more than A's own bandwidth
	run tb link set t94a r1:eth1 --rate 40mbit
	[ "$status" -eq 9 ]
	[[ "$output" == *"guaranteed 40Mbit in total, above the slice's bandwidth 30Mbit"* ]]
	[ "$(testbed_trellis "$P" 1 --json slice show t94a | jq '.links[0].shape.rate')" -eq 0 ]
	# within it, fine, on both nodes
	tb -q link set t94a r1:eth1 --rate 20mbit
	for i in 1 2; do
		ip netns exec "$P-n$i" tc class show dev eth0 | grep -q "rate 20Mbit"
	done
	# deleting the slices removes their classes, and the tree with the last one
	tb -q slice delete t94a
	tb -q slice delete t94b
	refute_output_of htb ip netns exec "$P-n1" tc qdisc show dev eth0
}
