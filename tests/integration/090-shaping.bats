#!/usr/bin/env bats
# Link shaping on one node, with real traffic (iperf3 inside the routers):
# the rate a link delivers, live changes without resetting the flow, random
# loss in the fast path, delay refused without netem, link down/up seen by
# OSPF, and refused changes that leave the previous settings in place.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	for s in t9p t9ring t9d; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

pair_spec() { plain_pair_spec "$1" 9 "" "${2:-}"; } # name [extra link lines]

host_tx_bytes() { cat "/sys/class/net/$1/statistics/tx_bytes"; }

# iperf3 server in r2 (one test, then it exits).
iperf_server() {
	trellis slice exec "$1" r2 -- iperf3 -s -1 -D -p 5201
	sleep 0.3
}

@test "a same-node link at 20mbit delivers 20mbit +-5% (frames into the router), TCP goodput close" {
	trellis -q slice create -f "$(pair_spec t9p '    rate: 20mbit')"
	host=t9p.r2.eth1
	tc qdisc show dev "$host" | grep -q "htb 1:"
	tc class show dev "$host" | grep -q "class htb 1:10 parent 1:1 .*rate 20Mbit"
	iperf_server t9p
	# one frame per packet, so the host end's byte counter counts frames
	trellis slice exec t9p r1 -- ethtool -K eth1 tso off gso off
	trellis slice exec t9p r1 -- iperf3 -c 10.9.0.2 -t 8 -J >"$T_DIR/rate.json" &
	client=$!
	sleep 2
	# a steady window in the middle of the transfer
	b0=$(host_tx_bytes "$host")
	t0=$(date +%s.%N)
	sleep 5
	b1=$(host_tx_bytes "$host")
	t1=$(date +%s.%N)
	wait "$client"
	output=$(cat "$T_DIR/rate.json")
	goodput=$(jq '.end.sum_received.bits_per_second' <<<"$output")
	l2=$(echo "($b1 - $b0) * 8 / ($t1 - $t0)" | bc -l)
	echo "# link rate delivered: $(printf %.2f "$(echo "$l2/1000000" | bc -l)") Mbit/s of frames, TCP goodput $(printf %.2f "$(echo "$goodput/1000000" | bc -l)") Mbit/s" >&3
	# frames into r2 (Ethernet header included, as tc counts) within 5% of 20mbit
	[ "$(echo "$l2 >= 19000000 && $l2 <= 21000000" | bc -l)" -eq 1 ]
	# TCP payload: the headers take ~4.5% of a full frame
	[ "$(echo "$goodput >= 18000000 && $goodput <= 21000000" | bc -l)" -eq 1 ]
	# the stats report the class and a rate now
	run trellis --json slice stats t9p
	[ "$status" -eq 0 ]
	[ "$(jq -r '.links[0].directions[] | select(.to == "r2:eth1") | .class' <<<"$output")" = "t9p.r2.eth1 1:10" ]
	[ "$(jq -r '.links[0].directions[] | select(.to == "r2:eth1") | .bytes' <<<"$output")" -gt 10000000 ]
}

@test "link set --rate 50mbit takes effect within a second, in place, without resetting the TCP flow" {
	trellis -q slice create -f "$(pair_spec t9p '    rate: 20mbit')"
	host=t9p.r2.eth1
	iperf_server t9p
	trellis slice exec t9p r1 -- iperf3 -c 10.9.0.2 -t 9 -i 0.5 -J >"$T_DIR/live.json" &
	client=$!
	# iperf's clock starts when exec has started it, a moment after ours: the
	# change lands at iperf time 5 less that moment, so the windows below keep
	# 2 s off it on the early side and 1 s on the late side.
	sleep 5
	before=$(tc -s class show dev "$host" classid 1:10 | awk '/Sent/ {print $2; exit}')
	trellis -q link set t9p r1:eth1 --rate 50mbit
	changed_at=5
	after=$(tc -s class show dev "$host" classid 1:10 | awk '/Sent/ {print $2; exit}')
	wait "$client"
	# the class was changed, not recreated: its byte counter kept counting
	[ "$after" -ge "$before" ]
	tc class show dev "$host" | grep -q "class htb 1:10 parent 1:1 .*rate 50Mbit"
	tc class show dev t9p.r1.eth1 | grep -q "class htb 1:10 parent 1:1 .*rate 50Mbit"
	# one stream from start to end, no error
	[ "$(jq -r '.error // empty' "$T_DIR/live.json")" = "" ]
	[ "$(jq '.end.streams | length' "$T_DIR/live.json")" -eq 1 ]
	jq -r '.intervals[] | "\(.sum.start) \(.sum.bits_per_second)"' "$T_DIR/live.json" >"$T_DIR/iv"
	[ -s "$T_DIR/iv" ] || { head -c 600 "$T_DIR/live.json" >&3; false; }
	before_rate=$(awk -v c=$changed_at '$1 >= 1 && $1 < c - 2 {s += $2; n++} END {printf "%d", s / n}' "$T_DIR/iv")
	after_rate=$(awk -v c=$changed_at '$1 >= c + 1 && $1 < 8.5 {s += $2; n++} END {printf "%d", s / n}' "$T_DIR/iv")
	echo "# goodput before the change $(printf %.1f "$(echo "$before_rate/1000000" | bc -l)") Mbit/s, from 1 s after it $(printf %.1f "$(echo "$after_rate/1000000" | bc -l)") Mbit/s" >&3
	[ "$(echo "$before_rate < 21000000" | bc -l)" -eq 1 ]
	[ "$(echo "$after_rate > 44000000 && $after_rate < 52000000" | bc -l)" -eq 1 ]
	# the new value is what slice show reports
	[ "$(trellis --json slice show t9p | jq '.links[0].shape.rate')" -eq 50000000 ]
}

@test "refused link changes name the problem and leave the previous settings" {
	trellis -q slice create -f "$(pair_spec t9p '    rate: 20mbit')"
	run trellis link set t9p r1:eth1 --ceil 10mbit
	[ "$status" -eq 3 ]
	[[ "$output" == *"ceil: 10Mbit is below the rate 20Mbit"* ]]
	run trellis link set t9p r1:eth1 --burst 64k --rate none
	[ "$status" -eq 3 ]
	[[ "$output" == *"burst: needs a rate"* ]]
	run trellis link set t9p r1:eth1 --rate fast
	[ "$status" -eq 3 ]
	[[ "$output" == *"--rate: 'fast' is not a rate"* ]]
	run trellis link set t9p r9:eth1 --rate 1mbit
	[ "$status" -eq 4 ]
	[[ "$output" == *"slice 't9p' has no link 'r9:eth1'"* ]]
	run trellis link set t9p r1:eth1
	[ "$status" -eq 2 ]
	[[ "$output" == *"nothing to change"* ]]
	run trellis link set t9p r1:eth1 --jitter 1ms
	[ "$status" -eq 3 ]
	[[ "$output" == *"jitter: needs a delay"* ]]
	tc class show dev t9p.r2.eth1 | grep -q "class htb 1:10 parent 1:1 .*rate 20Mbit"
	[ "$(trellis --json slice show t9p | jq '.links[0].shape.rate')" -eq 20000000 ]
	# unshaping removes the trees and goes back to redirect_peer
	trellis -q link set t9p r1:eth1 --rate none
	refute_output_of htb tc qdisc show dev t9p.r2.eth1
	refute_output_of htb tc qdisc show dev t9p.r1.eth1
	trellis slice exec t9p r1 -- ping -c 2 -i 0.2 -W 2 10.9.0.2
}

@test "delay without netem in the kernel: create and link set refused naming sch_netem, nothing left" {
	if trellis --json node show | jq -e '.netem' >/dev/null; then
		# a kernel with netem: the delay is really there
		trellis -q slice create -f "$(pair_spec t9d '    delay: 20ms')"
		rtt=$(trellis slice exec t9d r1 -- ping -c 5 -i 0.2 10.9.0.2 | awk -F/ '/rtt/ {print $5}')
		echo "# rtt with 20ms each way: $rtt ms" >&3
		[ "$(echo "$rtt >= 39" | bc -l)" -eq 1 ]
		return
	fi
	run trellis slice create -f "$(pair_spec t9d '    delay: 20ms')"
	[ "$status" -eq 7 ]
	[[ "$output" == *"delay: on node"*"sch_netem"* ]]
	assert_no_leftovers t9d
	trellis -q slice create -f "$(pair_spec t9d '    rate: 5mbit')"
	run trellis link set t9d r1:eth1 --delay 10ms --rate 8mbit
	[ "$status" -eq 7 ]
	[[ "$output" == *"sch_netem"* ]]
	tc class show dev t9d.r2.eth1 | grep -q "class htb 1:10 parent 1:1 .*rate 5Mbit"
}

@test "link loss: random drops in the fast path, counted, and off again" {
	trellis -q slice create -f "$(pair_spec t9p)"
	trellis -q link set t9p r1:eth1-r2:eth1 --loss 10%
	run trellis slice exec t9p r1 -- ping -c 400 -i 0.005 -W 1 -q 10.9.0.2
	loss=$(grep -o '[0-9.]*% packet loss' <<<"$output" | cut -d% -f1)
	echo "# ping round-trip loss with 10% per direction: $loss% (expected ~19%)" >&3
	[ "$(echo "$loss >= 10 && $loss <= 29" | bc -l)" -eq 1 ]
	drops=$(trellis --json slice stats t9p | jq '[.links[0].ports[].drops_loss] | add')
	[ "$drops" -gt 20 ]
	trellis -q link set t9p r1:eth1 --loss 0
	run trellis slice exec t9p r1 -- ping -c 100 -i 0.005 -W 1 -q 10.9.0.2
	[[ "$output" == *" 0% packet loss"* ]]
}

@test "link down/up: both routers lose their carrier, OSPF reroutes around the ring and back" {
	trellis -q slice create -f "$(example_as ospf-ring.yaml t9ring)"
	for r in r1 r2 r3 r4; do
		wait_for 60 eval '[ "$(ospf_full_count t9ring '$r')" -ge 2 ]'
	done
	wait_for 60 eval 'trellis slice exec t9ring r1 -- ip -4 route show 10.255.0.2 | grep -q "dev eth1"'
	trellis -q link down t9ring r1:eth1
	[ "$(trellis slice exec t9ring r1 -- cat /sys/class/net/eth1/carrier)" = 0 ]
	[ "$(trellis slice exec t9ring r2 -- cat /sys/class/net/eth2/carrier)" = 0 ]
	[ "$(trellis --json slice show t9ring | jq -r '.links[] | select(.endpoints[0] == "r1:eth1") | .state')" = admin-down ]
	# r1 reaches r2 the long way round, via r4 (and r2 answers the same way)
	wait_for 30 eval 'trellis slice exec t9ring r1 -- ip -4 route show 10.255.0.2 | grep -q "dev eth2"'
	wait_for 30 eval 'trellis slice exec t9ring r2 -- ip -4 route show 10.255.0.1 | grep -q "dev eth1"'
	# r3 and r4 in between reconverge too (a moment later): the ping gets through
	wait_for 30 trellis slice exec t9ring r1 -- ping -c 2 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.2
	trellis -q link up t9ring r1:eth1
	[ "$(trellis slice exec t9ring r1 -- cat /sys/class/net/eth1/carrier)" = 1 ]
	wait_for 30 eval 'trellis slice exec t9ring r1 -- ip -4 route show 10.255.0.2 | grep -q "dev eth1"'
	wait_for 30 eval 'trellis slice exec t9ring r2 -- ip -4 route show 10.255.0.1 | grep -q "dev eth2"'
	trellis slice exec t9ring r1 -- ping -c 2 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.2
	[ "$(trellis --json slice show t9ring | jq -r '.links[] | select(.endpoints[0] == "r1:eth1") | .state')" = up ]
}
