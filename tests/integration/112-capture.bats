#!/usr/bin/env bats
# trellis link capture: a tenant without root captures one end of its links
# (same node and across nodes), decoded by tshark: the right ICMP echoes of a
# ping, the filter applied, the count honoured, pcapng and pcap readable; a
# tenant cannot capture another tenant's link; a killed client ends the
# capture in the daemon (no thread or fd left); captures are capped per uid;
# tcpdump works inside a router.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"
bats_require_minimum_version 1.5.0

P=t12
PC=t12c	# the cluster test's testbed
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"

# Run a command as test user $1 (setpriv execs it: its pid is the command's, so signals reach it).
as() {
	local u=$1
	shift
	setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups -- "$@"
}

as_user() {
	local u=$1
	shift
	as "$u" "$TRELLIS_BIN" --socket "$T_SOCK" "$@"
}

setup_file() {
	require_root
	command -v tshark >/dev/null || skip "tshark not installed"
	command -v useradd >/dev/null || skip "useradd not installed"
	export U1="t112a$$" U2="t112b$$"
	for u in "$U1" "$U2"; do
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
	done
	export T_CONF
	T_CONF=$(mktemp /tmp/trellis-test-112-conf.XXXXXX)
	printf 'allow-tenant-create = yes\ntenant-users = %s, %s\ncapture-max-per-user = 3\n' "$U1" "$U2" >"$T_CONF"
	chmod 644 "$T_CONF"
	start_daemon --config "$T_CONF"
	# Where the tenant's CLI may write its files.
	export OUT="$T_DIR/out"
	mkdir "$OUT"
	chown "$U1" "$OUT"
	plain_pair_spec c12a 112 >/dev/null
	plain_pair_spec c12b 113 >/dev/null
	chmod 644 "$T_DIR"/c12a.yaml "$T_DIR"/c12b.yaml
	as_user "$U1" -q slice create -f "$T_DIR/c12a.yaml"
	as_user "$U2" -q slice create -f "$T_DIR/c12b.yaml"
}

teardown_file() {
	testbed_down "$P" || true
	if [ -d "$(testbed_dir "$PC")" ] || [ -d "$(testbed_dir "$PC")-etcd" ]; then
		P=$PC cluster_testbed_down 2 || true
	fi
	stop_daemon
	rm -f "$T_CONF"
	remove_test_users "${U1:-}" "${U2:-}"
}

teardown() {
	# captures a failed test left running
	for p in $(pgrep -u "$U1" -f "trellis.*link capture" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
}

# Start a capture as $U1 in the background (stderr to $OUT/$1.err); wait until the daemon runs it.
capture_bg() {
	local tag=$1
	shift
	# setpriv execs the CLI: $! is its pid
	setpriv --reuid "$U1" --regid "$(id -g "$U1")" --init-groups -- \
		"$TRELLIS_BIN" --socket "$T_SOCK" link capture --seconds 60 "$@" 2>"$OUT/$tag.err" &
	echo $! >"$OUT/$tag.pid"
	wait_for 10 grep -q "capturing on" "$OUT/$tag.err"
}

# tshark without its warning about running as root
tsh() { tshark "$@" 2>/dev/null; }

ping_r1() { # COUNT
	trellis slice exec c12a r1 -- ping -c "$1" -i 0.2 -W 2 10.112.0.2 >/dev/null
}

@test "a tenant captures a ping on a same-node link: tshark reads the echoes, the filter and the count hold" {
	capture_bg icmp c12a r1:eth1 -c 4 -w "$OUT/icmp.pcapng" icmp
	ping_r1 4
	wait_for 10 bash -c "! kill -0 $(cat "$OUT/icmp.pid") 2>/dev/null"
	run ! kill -0 "$(cat "$OUT/icmp.pid")"
	grep -q "4 packets captured" "$OUT/icmp.err"
	[ "$(stat -c %U "$OUT/icmp.pcapng")" = "$U1" ]
	# pcapng, as tshark sees it: exactly 4 frames, echo request/reply alternating, the right addresses
	run tsh -r "$OUT/icmp.pcapng" -T fields -e icmp.type -e ip.src -e ip.dst
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "8	10.112.0.1	10.112.0.2" ]
	[ "${lines[1]}" = "0	10.112.0.2	10.112.0.1" ]
	[ "${lines[2]}" = "8	10.112.0.1	10.112.0.2" ]
	[ "${lines[3]}" = "0	10.112.0.2	10.112.0.1" ]
	# the interface is named after the end, both directions are marked
	run tsh -r "$OUT/icmp.pcapng" -T fields -e frame.interface_name -e frame.packet_flags_direction
	[[ "${lines[0]}" == "r1:eth1	"* ]]
	[ "$(printf '%s\n' "${lines[@]}" | cut -f2 | sort -u | wc -l)" -eq 2 ]
}

@test "the filter is applied: 'arp' captures ARP and no ICMP; a bad filter is refused with libpcap's reason" {
	trellis slice exec c12a r1 -- ip neigh flush all
	capture_bg arp c12a r1:eth1-r2:eth1 --end r2 -c 2 -w "$OUT/arp.pcapng" arp
	ping_r1 2
	wait_for 10 bash -c "! kill -0 $(cat "$OUT/arp.pid") 2>/dev/null"
	run tsh -r "$OUT/arp.pcapng" -T fields -e frame.protocols -e arp.opcode
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "eth:ethertype:arp	1" ]]
	[[ "${lines[1]}" == "eth:ethertype:arp	2" ]]
	run as_user "$U1" link capture c12a r1:eth1 -c 1 'icmp and and'
	[ "$status" -ne 0 ]
	[[ "$output" == *"filter: 'icmp and and': can't parse filter expression: syntax error"* ]]
}

@test "pcap to stdout for tshark -r -, and one line per frame without -w" {
	(sleep 1; ping_r1 3) &
	run bash -c "setpriv --reuid $U1 --regid $(id -g "$U1") --init-groups -- $TRELLIS_BIN --socket $T_SOCK -q link capture c12a r1:eth1 -c 2 --seconds 30 --pcap -w - icmp | tshark -r - -T fields 2>/dev/null -e icmp.type"
	wait
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 8 ]
	[ "${lines[1]}" = 0 ]
	(sleep 1; ping_r1 3) &
	run --separate-stderr as_user "$U1" link capture c12a r1:eth1 -c 2 --seconds 30 icmp
	wait
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *" out IP 10.112.0.1 > 10.112.0.2: ICMP echo request, id "*", seq 1, length 64" ]]
	[[ "${lines[1]}" == *" in  IP 10.112.0.2 > 10.112.0.1: ICMP echo reply, id "*", seq 1, length 64" ]]
	[[ "$stderr" == *"2 packets captured"* ]]
	# --json: a JSON line per frame, then one with the counts
	(sleep 1; ping_r1 3) &
	run --separate-stderr as_user "$U1" --json link capture c12a r1:eth1 -c 2 --seconds 30 icmp
	wait
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(jq -r .direction <<<"${lines[0]}")" = out ]
	[[ "$(jq -r .summary <<<"${lines[1]}")" == "IP 10.112.0.2 > 10.112.0.1: ICMP echo reply"* ]]
	[ "$(jq -r '"\(.packets) \(.reason)"' <<<"${lines[2]}")" = "2 count" ]
}

@test "a VLAN tag the kernel took out of a frame is back in the capture" {
	capture_bg vlan c12a r2:eth1 -c 1 -w "$OUT/vlan.pcapng" ether src 02:00:00:00:11:22
	rpid=$(trellis --json slice show c12a | jq -r '.routers[] | select(.name == "r1") | .pid')
	# a tagged frame (VLAN 10) from r1's eth1; r2's kernel moves the tag out of the frame on receipt
	nsenter --net="/proc/$rpid/ns/net" python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth1", 0))
s.send(bytes.fromhex("ffffffffffff" "020000001122" "8100" "000a" "0800") + bytes(46))'
	wait_for 10 bash -c "! kill -0 $(cat "$OUT/vlan.pid") 2>/dev/null"
	run tsh -r "$OUT/vlan.pcapng" -T fields -e vlan.id -e frame.len
	[ "$output" = "10	64" ]
}

@test "a tenant cannot capture another tenant's link (the same answer as a missing slice)" {
	run as_user "$U2" link capture c12a r1:eth1 -c 1 -w /dev/null
	[ "$status" -ne 0 ]
	[[ "$output" == *"no slice 'c12a'"* ]]
	[[ "$output" != *"capturing on"* ]]
	# ... while its owner and root may
	(sleep 1; ping_r1 2) &
	run as_user "$U1" -q link capture c12a r1:eth1 -c 1 --seconds 20 -w /dev/null icmp
	wait
	[ "$status" -eq 0 ]
	(sleep 1; ping_r1 2) &
	run trellis -q link capture c12a r1:eth1 -c 1 --seconds 20 -w /dev/null icmp
	wait
	[ "$status" -eq 0 ]
	grep -q "uid $(id -u "$U1"): capture on router 'r1' interface 'eth1' of slice 'c12a'" "$T_DIR/trellisd.log"
}

daemon_threads() { ls "/proc/$(cat "$T_DIR/trellisd.pid")/task" | wc -l; }
daemon_fds() { ls "/proc/$(cat "$T_DIR/trellisd.pid")/fd" | wc -l; }

@test "killing the client ends the capture in the daemon: no thread, socket or fd left" {
	threads0=$(daemon_threads)
	fds0=$(daemon_fds)
	capture_bg kill c12a r1:eth1
	[ "$(daemon_threads)" -gt "$threads0" ]
	[ "$(daemon_fds)" -gt "$fds0" ]
	# the daemon's capture socket is a packet socket in the router's netns
	[ "$(ls -l "/proc/$(cat "$T_DIR/trellisd.pid")/fd" | grep -c socket)" -ge 2 ]
	kill -KILL "$(cat "$OUT/kill.pid")"
	wait_for 5 bash -c "[ \$(ls /proc/$(cat "$T_DIR/trellisd.pid")/task | wc -l) -le $threads0 ]"
	[ "$(daemon_threads)" -le "$threads0" ]
	[ "$(daemon_fds)" -le "$fds0" ]
	grep -q "capture on router 'r1' interface 'eth1' of slice 'c12a' ended (client)" "$T_DIR/trellisd.log"
}

@test "captures are capped per uid (capture-max-per-user = 3); ^C ends a capture with its counts" {
	for i in 1 2 3; do capture_bg cap$i c12a r1:eth1 -w /dev/null; done
	run as_user "$U1" link capture c12a r1:eth1 -c 1 -w /dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == *"too many captures of uid $(id -u "$U1") at once (limit 3)"* ]]
	# more than the daemon allows per capture is refused, naming the key
	run as_user "$U1" link capture c12a r1:eth1 --seconds 7200 -w /dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == *"seconds: a capture lasts at most 3600 s on node"*"(capture-max-seconds)"* ]]
	# SIGINT (^C): the client closes the pipe, the daemon stops and still reports
	kill -INT "$(cat "$OUT/cap1.pid")"
	wait_for 5 grep -q "packets captured" "$OUT/cap1.err"
	grep -q "(reader)" "$OUT/cap1.err"
	for i in 2 3; do kill -KILL "$(cat "$OUT/cap$i.pid")"; done
	# the slots come back
	wait_for 10 as_user "$U1" -q link capture c12a r1:eth1 --seconds 1 -w /dev/null
}

@test "tcpdump works inside a router (its /etc has a tcpdump user)" {
	grep -q '^tcpdump:' "$T_DIR/state/lxc/c12a.r1/rootfs/etc/passwd"
	(sleep 2; ping_r1 3) &
	run as_user "$U1" slice exec c12a r1 -- timeout 20 tcpdump -n -i eth1 -c 2 icmp
	wait
	[ "$status" -eq 0 ]
	[[ "$output" == *"IP 10.112.0.1 > 10.112.0.2: ICMP echo request"* ]]
	[[ "$output" != *"Couldn't find user"* ]]
}

@test "a capture ends when its router stops (and holds nothing of it)" {
	trellis link capture c12b r1:eth1 --seconds 60 -w /dev/null 2>"$OUT/stop.err" &
	pid=$!
	wait_for 10 grep -q "capturing on" "$OUT/stop.err"
	rpid=$(trellis --json slice show c12b | jq -r '.routers[] | select(.name == "r1") | .pid')
	[ "$rpid" -gt 1 ]
	kill -KILL "$rpid"
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
	grep -q "(router)" "$OUT/stop.err"
	# its host-side veth end goes with the router's namespace: the capture kept no reference
	wait_for 10 bash -c "! ip link show c12b.r1.eth1 >/dev/null 2>&1"
}

@test "a tenant captures the remote end of a cross-node link (the CLI asks the node that runs it)" {
	testbed_up "$P" 2
	for i in 1 2; do testbed_daemon "$P" "$i" --config "$T_CONF"; done
	f="$(testbed_dir "$P")/c12x.yaml"
	cat >"$f" <<EOS
slice: c12x
owner: $U1
routers:
  r1: {template: plain, node: ${P}n1}
  r2: {template: plain, node: ${P}n2}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.114.0.1/24, 10.114.0.2/24]
EOS
	# shellcheck disable=SC2046
	"$TRELLIS_BIN" $(testbed_node_args "$P") -q slice create -f "$f"
	out="$OUT/x.pcapng"
	# shellcheck disable=SC2046
	setpriv --reuid "$U1" --regid "$(id -g "$U1")" --init-groups -- "$TRELLIS_BIN" $(testbed_node_args "$P") link capture c12x r1:eth1-r2:eth1 --end r2 --seconds 60 \
		-c 4 -w "$out" icmp 2>"$OUT/x.err" &
	pid=$!
	wait_for 10 grep -q "capturing on router 'r2'" "$OUT/x.err"
	testbed_trellis "$P" 1 slice exec c12x r1 -- ping -c 4 -i 0.2 -W 2 10.114.0.2 >/dev/null
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
	run tsh -r "$out" -T fields -e icmp.type -e ip.src -e ip.dst
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "8	10.114.0.1	10.114.0.2" ]
	[ "${lines[1]}" = "0	10.114.0.2	10.114.0.1" ]
	# without --nodes the node that does not run the end says which does
	run as "$U1" "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" link capture c12x r2:eth1 -c 1
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r2' runs on node '${P}n2'"* ]]
}

@test "cluster mode: a tenant captures on the node that runs the end; another node names it" {
	P=$PC
	cluster_up 2
	f="$(testbed_dir "$P")/c12q.yaml"
	cat >"$f" <<EOS
slice: c12q
owner: $U1
routers:
  r1: {template: plain, node: ${P}n1}
  r2: {template: plain, node: ${P}n2}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.115.0.1/24, 10.115.0.2/24]
EOS
	ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" -q slice create -f "$f"
	setpriv --reuid "$U1" --regid "$(id -g "$U1")" --init-groups -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 2)" \
		link capture c12q r2:eth1 -c 2 --seconds 60 icmp >"$OUT/q.out" 2>"$OUT/q.err" &
	pid=$!
	wait_for 10 grep -q "capturing on router 'r2'" "$OUT/q.err"
	testbed_trellis "$P" 1 slice exec c12q r1 -- ping -c 2 -i 0.3 -W 2 10.115.0.2 >/dev/null
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
	grep -q " in  IP 10.115.0.1 > 10.115.0.2: ICMP echo request" "$OUT/q.out"
	grep -q " out IP 10.115.0.2 > 10.115.0.1: ICMP echo reply" "$OUT/q.out"
	run as "$U1" "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" link capture c12q r2:eth1 -c 1
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r2' runs on node '${P}n2', not on '${P}n1'"* ]]
	ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" -q slice delete c12q
}
