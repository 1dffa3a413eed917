#!/usr/bin/env bats
# The hostile tenant on the wire: routers of slice A forge frames -- raw
# Ethernet with slice B's MAC addresses, broadcasts, and whole EGRE packets
# carrying B's tunnel keys and the substrate nodes' addresses -- out of their
# cross-node and same-node links.  Captures inside every router of B must
# never see them (a marker in the payload), the fast path's counters must put
# them on A's links only, and A's own peers must see them (so the probe and
# the captures are shown to work).  Two emulated substrate nodes
# (lib/testbed.bash).

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
bats_require_minimum_version 1.5.0

P=t81
N=50 # frames per attempt
MARK=TRELLIS-SPOOF-MARK

setup_file() {
	require_root
	command -v cc >/dev/null || skip "no C compiler (cc) for the probe"
	command -v tcpdump >/dev/null || skip "tcpdump not installed"
	testbed_down "$P"
	testbed_up "$P" 2
	testbed_daemon "$P" 1
	testbed_daemon "$P" 2
	cc -O2 -Wall -o "$(testbed_dir "$P")/hostile-probe" "$TRELLIS_SRC/tests/integration/lib/hostile-probe.c"
	for s in a b; do
		cat >"$(testbed_dir "$P")/t81$s.yaml" <<EOS
slice: t81$s
routers:
  ${s}1: {node: ${P}n1, template: plain}
  ${s}2: {node: ${P}n2, template: plain}
  ${s}3: {node: ${P}n1, template: plain}
links:
  - endpoints: [${s}1:eth1, ${s}2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
  - endpoints: [${s}1:eth2, ${s}3:eth1]
    ipv4: [10.0.13.1/24, 10.0.13.3/24]
EOS
		tb -q slice create -f "$(testbed_dir "$P")/t81$s.yaml" >/dev/null
	done
	for r in a1 a2; do
		tb slice exec t81a "$r" -- sh -c 'cat >/tmp/hostile-probe && chmod 755 /tmp/hostile-probe' \
			<"$(testbed_dir "$P")/hostile-probe"
	done
}

teardown_file() {
	testbed_down "$P"
}

mac_of() { # slice router ifname
	tb --json slice show "$1" |
		jq -r --arg r "$2" --arg i "$3" '[.. | objects | select(.name? == $r and has("interfaces")) | .interfaces[] | select(.name == $i) | .mac][0]'
}

key_of() { # slice link
	tb --json slice show "$1" | jq -r --arg l "$2" '[.nodes[].links[] | select(.name == $l) | .key][0]'
}

# rx packets the fast path counted into a router's host ends (summed over nodes).
rx_of() { # slice router
	tb --json slice stats "$1" |
		jq --arg p "$1.$2." '[.nodes[].links[].ports[] | select(.host | startswith($p)) | .rx_packets] | add // 0'
}

# Start a capture of what arrives at every router of both slices, on all its
# interfaces.
capture_start() {
	local s r
	for s in t81a t81b; do
		for r in 1 2 3; do
			r=${s: -1}$r
			tb slice exec "$s" "$r" -- timeout 12 tcpdump -Z root -i any -Q in -nn -A -U -l \
				>"$(testbed_dir "$P")/cap.$s.$r" 2>/dev/null &
		done
	done
	sleep 2
}

capture_stop() {
	local s r
	for s in t81a t81b; do
		for r in 1 2 3; do
			tb slice exec "$s" "${s: -1}$r" -- pkill -INT tcpdump || true
		done
	done
	wait || true
}

# How many frames with the marker a router's capture saw.
seen() { # slice router
	grep -c "$MARK" "$(testbed_dir "$P")/cap.$1.$2" || true
}

# attack ROUTER PROBE-ARGS...: run the probe in a router of slice A, print it.
attack() {
	local r=$1 out rc=0
	shift
	out=$(tb slice exec t81a "$r" -- /tmp/hostile-probe "$@" 2>&1) || rc=$?
	echo "# [t81a/$r] hostile-probe $*: exit $rc: $out" >&3
	[ "$rc" -eq 0 ]
}

@test "forged MACs and broadcasts from slice A never reach slice B, across nodes or on one node" {
	b1=$(mac_of t81b b1 eth1)
	b2=$(mac_of t81b b2 eth1)
	b3=$(mac_of t81b b3 eth1)
	b12=$(mac_of t81b b1 eth2)
	[[ "$b1" =~ ^[0-9a-f:]{17}$ ]] && [[ "$b2" =~ ^[0-9a-f:]{17}$ ]] && [[ "$b3" =~ ^[0-9a-f:]{17}$ ]]
	rxa2=$(rx_of t81a a2)
	rxa3=$(rx_of t81a a3)
	rxb=$(($(rx_of t81b b1) + $(rx_of t81b b2) + $(rx_of t81b b3)))
	capture_start
	# out of A's cross-node link: to B's router on the other node, as B's router on this one
	attack a1 frames eth1 "$b2" "$b1" "$N"
	attack a1 frames eth1 ff:ff:ff:ff:ff:ff "$b1" "$N"
	# from the other node back
	attack a2 frames eth1 "$b1" "$b2" "$N"
	# out of A's same-node link: to B's router on the same node
	attack a1 frames eth2 "$b3" "$b12" "$N"
	attack a1 frames eth2 ff:ff:ff:ff:ff:ff "$b12" "$N"
	sleep 1
	capture_stop
	for r in b1 b2 b3 a1 a2 a3; do
		s=t81${r:0:1}
		echo "# $s/$r captured $(seen "$s" "$r") marked frames" >&3
	done
	for r in b1 b2 b3; do
		[ "$(seen t81b "$r")" = 0 ]
	done
	# the probe and the captures work: A's own peers got every frame
	[ "$(seen t81a a2)" -ge $((2 * N)) ]
	[ "$(seen t81a a1)" -ge "$N" ]
	[ "$(seen t81a a3)" -ge $((2 * N)) ]
	# and the fast path counted them on A's ports, not B's
	da2=$(($(rx_of t81a a2) - rxa2))
	da3=$(($(rx_of t81a a3) - rxa3))
	db=$(($(rx_of t81b b1) + $(rx_of t81b b2) + $(rx_of t81b b3) - rxb))
	echo "# fast path rx: A's a2 +$da2, A's a3 +$da3, all of B +$db" >&3
	[ "$da2" -ge $((2 * N)) ]
	[ "$da3" -ge $((2 * N)) ]
	[ "$db" -lt "$N" ] # B's own neighbour discovery, never a whole attack
}

@test "EGRE packets with slice B's keys, forged by slice A, stay inside slice A's tunnel" {
	kb=$(key_of t81b b1:eth1-b2:eth1)
	ka=$(key_of t81a a1:eth1-a2:eth1)
	[[ "$kb" =~ ^[0-9]+$ ]] && [[ "$ka" =~ ^[0-9]+$ ]]
	b1=$(mac_of t81b b1 eth1)
	b2=$(mac_of t81b b2 eth1)
	n1=$(testbed_node_addr "$P" 1)
	n2=$(testbed_node_addr "$P" 2)
	sw1=$(ip -n "$P-sw" link show "$P-w1" | awk '/link\/ether/ {print $2}')
	sw2=$(ip -n "$P-sw" link show "$P-w2" | awk '/link\/ether/ {print $2}')
	for i in 1 2; do
		u[$i]=$(testbed_trellis "$P" "$i" --json node show | jq '.fastpath_stats.unknown_key // 0')
	done
	rxb=$(($(rx_of t81b b1) + $(rx_of t81b b2)))
	capture_start
	# a1 (node 1) -> node 2 with B's key, as node 1 would send it; and a2 back
	attack a1 egre eth1 "$sw1" "$n1" "$n2" "$kb" "$b2" "$b1" "$N"
	attack a2 egre eth1 "$sw2" "$n2" "$n1" "$kb" "$b1" "$b2" "$N"
	# to the node's own address, over the same-node link
	attack a1 egre eth2 "$sw1" "$n2" "$n1" "$kb" "$b1" "$b2" "$N"
	# an unknown key and A's own key, for good measure
	attack a1 egre eth1 ff:ff:ff:ff:ff:ff "$n1" "$n2" 999999 "$b2" "$b1" "$N"
	attack a1 egre eth1 ff:ff:ff:ff:ff:ff "$n1" "$n2" "$ka" "$b2" "$b1" "$N"
	sleep 1
	capture_stop
	for r in b1 b2 b3 a1 a2 a3; do
		s=t81${r:0:1}
		echo "# $s/$r captured $(seen "$s" "$r") marked frames" >&3
	done
	for r in b1 b2 b3; do
		[ "$(seen t81b "$r")" = 0 ]
	done
	# they arrived, as they were sent, at the other end of A's own links
	[ "$(seen t81a a2)" -ge $((3 * N)) ]
	[ "$(seen t81a a1)" -ge "$N" ]
	[ "$(seen t81a a3)" -ge "$N" ]
	db=$(($(rx_of t81b b1) + $(rx_of t81b b2) - rxb))
	echo "# fast path rx into B's routers during the attack: +$db" >&3
	[ "$db" -lt "$N" ] # B's own neighbour discovery, never a whole attack
	# and no node ever parsed them as tunnel packets of its own: they
	# travelled inside A's tunnel, so no unknown-key drop either
	for i in 1 2; do
		after=$(testbed_trellis "$P" "$i" --json node show | jq '.fastpath_stats.unknown_key // 0')
		echo "# node $i unknown-key drops: ${u[$i]} -> $after" >&3
		[ "$after" = "${u[$i]}" ]
	done
}
