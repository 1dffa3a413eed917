#!/usr/bin/env bats
# BIRD 2 routers (template: bird) beside FRR in one slice, from
# examples/bgp-mixed.yaml: r1 (FRR, AS 65001) -- eBGP -- r2 (BIRD, AS 65002)
# -- OSPF -- r3 (FRR, AS 65002).  eBGP Established as both suites see it,
# prefixes exchanged into both kernels, OSPF Full between BIRD and FRR,
# loopback-to-loopback pings across both suites; birdc through exec and
# login; BIRD confined (bird user, network capabilities only, seccomp);
# BIRD killed inside is started again; 'birdc configure' applies a changed
# bird.conf without a restart; a node without bird2 lists the template as
# missing and refuses routers of it naming the package.

load helpers
bats_require_minimum_version 1.5.0

S=t65m

setup_file() {
	# A template like bird whose required file no host has: how a node
	# without bird2 sees the bird template (trellisd reads requires = only).
	T65_TPL=$(mktemp -d /tmp/t65-templates.XXXXXX)
	export T65_TPL
	cp -R "$TRELLIS_SRC/container-templates/bird" "$T65_TPL/birdless"
	sed -i 's|^requires = /usr/sbin/bird bird2$|requires = /nonexistent/t65/sbin/bird bird2|' \
		"$T65_TPL/birdless/template.conf"
	# The bird template with BIRD starting 2 s late: what create waits for.
	cp -R "$TRELLIS_SRC/container-templates/bird" "$T65_TPL/birdslow"
	sed -i 's|^install -d -o bird -g bird -m 0750 /run/bird$|&\nsleep 2|' "$T65_TPL/birdslow/rootfs/etc/trellis/boot"
	grep -q '^sleep 2$' "$T65_TPL/birdslow/rootfs/etc/trellis/boot"
	T_EXTRA_TEMPLATES=$T65_TPL start_daemon
	if [ -x /usr/sbin/bird ]; then
		trellis -q slice create -f "$(example_as bgp-mixed.yaml $S)" >/dev/null
	fi
}

teardown_file() {
	tmux -L "t65-$$" kill-server 2>/dev/null || true
	stop_daemon
	rm -rf "${T65_TPL:?}"
}

need_bird() {
	[ -x /usr/sbin/bird ] || skip "bird2 is not installed (scripts/install-deps.sh installs it)"
}

birdc_in() { # router birdc-args...
	local r=$1
	shift
	trellis slice exec "$S" "$r" -- birdc "$@"
}

route_via() { # router prefix proto
	trellis slice exec "$S" "$1" -- ip -4 route show "$2" | grep -q "proto $3"
}

# The state of r1's session to BIRD as FRR sees it, and of BIRD's to r1.
frr_bgp_state() {
	vtysh_in "$S" r1 "show bgp summary json" 2>/dev/null | jq -r '.ipv4Unicast.peers["10.0.12.2"].state // "none"'
}
bird_bgp_state() {
	birdc_in r2 show protocols r1 2>/dev/null | awk '$1 == "r1" { print $6 }'
}
frr_bgp_connections() {
	vtysh_in "$S" r1 "show bgp summary json" | jq -r '.ipv4Unicast.peers["10.0.12.2"].connectionsEstablished'
}
bird_pid() {
	trellis slice exec "$S" r2 -- cat /run/bird/bird.pid
}

@test "bgp-mixed: eBGP between FRR and BIRD Established on both sides, prefixes in both kernels" {
	need_bird
	wait_for 60 eval '[ "$(frr_bgp_state)" = Established ]'
	wait_for 60 eval '[ "$(bird_bgp_state)" = Established ]'
	# FRR -> BIRD: r1's loopback in BIRD's table from the session and in r2's kernel
	wait_for 60 route_via r2 10.255.0.1 bird
	run birdc_in r2 show route protocol r1
	[[ "$output" == *"10.255.0.1/32"* ]]
	# BIRD -> FRR: r2's own loopback and the one it learned by OSPF, in r1's kernel
	wait_for 60 route_via r1 10.255.0.2 bgp
	wait_for 60 route_via r1 10.255.0.3 bgp
	run trellis slice exec "$S" r1 -- ip -4 route show 10.255.0.2
	[[ "$output" == *"via 10.0.12.2 dev eth1"* ]]
}

@test "bgp-mixed: OSPF Full between BIRD and FRR, routes both ways, ping end to end across both suites" {
	need_bird
	wait_for 60 eval '[ "$(ospf_full_count $S r3)" -ge 1 ]'
	wait_for 60 eval 'birdc_in r2 show ospf neighbors | grep -q "^10\.255\.0\.3 .*Full"'
	wait_for 60 route_via r2 10.255.0.3 bird
	wait_for 60 route_via r3 10.255.0.2 ospf
	# r1's loopback reaches r3 as BIRD's OSPF external route for what BGP brought
	wait_for 60 route_via r3 10.255.0.1 ospf
	run trellis slice exec "$S" r3 -- vtysh -c "show ip ospf route"
	echo "$output"
	[[ "$output" == *"N E2 10.255.0.1/32"* ]]
	run trellis slice exec "$S" r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	run trellis slice exec "$S" r3 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.3 10.255.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
}

@test "birdc works through exec; BIRD runs as the router's bird user with the network capabilities only, under seccomp" {
	need_bird
	run birdc_in r2 show status
	[ "$status" -eq 0 ]
	[[ "$output" == *"BIRD 2."* ]]
	[[ "$output" == *"Daemon is up and running"* ]]
	# the spec's config is what BIRD runs, included after trellisd's log line
	run trellis slice exec "$S" r2 -- cat /etc/bird/bird.conf
	[[ "$output" == *'log "/var/log/bird/bird.log"'* ]]
	[[ "$output" == *'include "/etc/bird/spec.conf";'* ]]
	run trellis slice exec "$S" r2 -- cat /etc/bird/spec.conf
	[[ "$output" == "router id 10.255.0.2;"* ]]
	[[ "$output" == *"protocol bgp r1 {"* ]]
	inside=$(trellis slice exec "$S" r2 -- sh -c 'grep -E "^(Uid|Gid|CapEff|CapPrm|Seccomp):" /proc/$(cat /run/bird/bird.pid)/status')
	echo "$inside"
	[[ "$inside" == *"Uid:	103	103	103	103"* ]]
	[[ "$inside" == *"Gid:	103	103	103	103"* ]]
	# net_bind_service, net_broadcast, net_admin, net_raw
	[[ "$inside" == *"CapEff:	0000000000003c00"* ]]
	[[ "$inside" == *"CapPrm:	0000000000003c00"* ]]
	[[ "$inside" == *"Seccomp:	2"* ]]
	# seen from the host: a mapped uid, never host root
	init=$(trellis --json slice show "$S" | jq -r '.routers[] | select(.name == "r2") | .pid')
	host_pid=""
	for p in $(pgrep -x bird); do
		[ "$(readlink /proc/$p/ns/pid)" = "$(readlink /proc/$init/ns/pid)" ] && host_pid=$p
	done
	[ -n "$host_pid" ]
	uid=$(awk '/^Uid:/ { print $2 }' /proc/$host_pid/status)
	[ "$uid" -ge 65536 ]
	# and the ready marker trellisd waited for is there
	trellis slice exec "$S" r2 -- test -e /run/bird/ready
}

@test "birdc works in a login shell" {
	need_bird
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t65-$$"
	tmux -L "$sock" new-session -d -x 150 -y 40 "$TRELLIS_BIN --socket $T_SOCK slice login $S r2; sleep 30"
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q 'root@r2'"
	tmux -L "$sock" send-keys 'birdc show protocols; echo DONE-$((6*7))' Enter
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q 'DONE-42'"
	screen=$(tmux -L "$sock" capture-pane -p)
	tmux -L "$sock" send-keys 'exit' Enter
	tmux -L "$sock" kill-server
	echo "$screen"
	[[ "$screen" == *"BIRD 2."*"ready."* ]]
	[[ "$screen" == *"ospf1"*"OSPF"* ]]
}

@test "BIRD killed inside the router is started again, and the sessions come back" {
	need_bird
	wait_for 60 eval '[ "$(frr_bgp_state)" = Established ]'
	old=$(bird_pid)
	trellis slice exec "$S" r2 -- sh -c "kill -9 $old"
	wait_for 30 eval 'p=$(bird_pid 2>/dev/null) && [ -n "$p" ] && [ "$p" != "'"$old"'" ] && birdc_in r2 show status >/dev/null'
	run trellis slice exec "$S" r2 -- cat /var/log/bird/boot.log
	[[ "$output" == *"bird (pid $old) exited with status 137; starting it again"* ]]
	# the new BIRD has the config and its sessions again, on both sides
	wait_for 60 eval '[ "$(bird_bgp_state)" = Established ]'
	wait_for 60 eval '[ "$(frr_bgp_state)" = Established ]'
	wait_for 60 eval 'birdc_in r2 show ospf neighbors | grep -q "^10\.255\.0\.3 .*Full"'
	wait_for 60 route_via r1 10.255.0.3 bgp
	wait_for 60 route_via r3 10.255.0.1 ospf
	run trellis slice exec "$S" r1 -- ping -c 3 -i 0.2 -W 2 -I 10.255.0.1 10.255.0.3
	[ "$status" -eq 0 ]
	# the router itself never stopped
	run trellis --json slice show "$S"
	[ "$(echo "$output" | jq -r '.routers[] | select(.name == "r2") | .state')" = running ]
}

@test "birdc configure applies a changed spec.conf without restarting BIRD or its BGP session; a bad one is refused and the old one kept" {
	need_bird
	wait_for 60 eval '[ "$(frr_bgp_state)" = Established ]'
	wait_for 60 eval '[ "$(bird_bgp_state)" = Established ]'
	pid=$(bird_pid)
	conns=$(frr_bgp_connections)
	run route_via r1 10.255.99.1 bgp
	[ "$status" -ne 0 ]
	trellis slice exec "$S" r2 -- sh -c 'cp /etc/bird/spec.conf /tmp/spec.conf.before &&
		printf "protocol static extra {\n  ipv4;\n  route 10.255.99.1/32 blackhole;\n}\n" >>/etc/bird/spec.conf'
	run birdc_in r2 configure
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Reconfigured"* ]]
	# the new prefix reaches FRR over the session that was already up
	wait_for 30 route_via r1 10.255.99.1 bgp
	[ "$(bird_pid)" = "$pid" ]
	[ "$(frr_bgp_connections)" = "$conns" ]
	[ "$(frr_bgp_state)" = Established ]
	# a config with an error: BIRD says where and keeps running the old one
	nl=$(trellis slice exec "$S" r2 -- wc -l /etc/bird/spec.conf | awk '{ print $1 }')
	trellis slice exec "$S" r2 -- sh -c 'echo "protocol nonsense {" >>/etc/bird/spec.conf'
	run birdc_in r2 configure
	echo "$output"
	[[ "$output" == *"/etc/bird/spec.conf:$((nl + 1)):"* ]]
	[[ "$output" != *"Reconfigured"* ]]
	[ "$(bird_pid)" = "$pid" ]
	route_via r1 10.255.99.1 bgp
	run birdc_in r2 show protocols extra
	[[ "$output" == *"extra"*"Static"*"up"* ]]
	# back to the spec's config: the static route is withdrawn from FRR
	trellis slice exec "$S" r2 -- sh -c 'cat /tmp/spec.conf.before >/etc/bird/spec.conf'
	run birdc_in r2 configure
	echo "$output"
	# a protocol to shut down first: BIRD answers before it is done
	[[ "$output" == *"Reconfigured"* || "$output" == *"Reconfiguration in progress"* ]]
	wait_for 10 eval '! birdc_in r2 show protocols extra | grep -q "^extra "'
	wait_for 30 eval '! route_via r1 10.255.99.1 bgp'
	[ "$(bird_pid)" = "$pid" ]
	[ "$(frr_bgp_connections)" = "$conns" ]
}

@test "create returns only once BIRD answers on its control socket" {
	need_bird
	cat >"$T_DIR/t65r.yaml" <<EOS
slice: t65r
routers:
  r1:
    template: birdslow
    config: |
      router id 10.65.1.1;
      protocol device {}
EOS
	start=$(date +%s%N)
	trellis -q slice create -f "$T_DIR/t65r.yaml"
	[ $(($(date +%s%N) - start)) -ge 2000000000 ]
	# at once, no waiting: the ready rule already asked birdc
	run trellis slice exec t65r r1 -- birdc show status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Daemon is up and running"* ]]
	trellis -q slice delete t65r
	assert_no_leftovers t65r
}

@test "a BIRD config BIRD refuses fails the create at once with BIRD's message, and leaves nothing" {
	need_bird
	cat >"$T_DIR/t65c.yaml" <<EOS
slice: t65c
routers:
  r1:
    template: bird
    config: |
      router id 10.65.0.1;
      protocol device {}
      protocol nonsense {
EOS
	start=$(date +%s)
	run trellis slice create -f "$T_DIR/t65c.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	# well before the 60 s a router gets to start
	[ $(($(date +%s) - start)) -lt 30 ]
	# with the line of the spec's config: as BIRD counts it
	[[ "$output" == *"router 'r1': BIRD did not start: bird: /etc/bird/spec.conf:3:"*"syntax error"* ]]
	assert_no_leftovers t65c
	# no router id and no IPv4 address to take one from: BIRD's fatal log message
	cat >"$T_DIR/t65c.yaml" <<EOS
slice: t65c
routers:
  r1:
    template: bird
    config: |
      protocol device {}
EOS
	run trellis slice create -f "$T_DIR/t65c.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r1': BIRD did not start: bird: Cannot determine router ID, please configure it manually"* ]]
	assert_no_leftovers t65c
}

@test "a node without bird2 lists the template as missing and refuses routers of it, naming the package" {
	run trellis node show
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"Templates missing:"*"birdless (needs package bird2)"* ]]
	tpls=$(echo "$output" | awk -F': *' '$1 == "Templates" { print $2 }')
	[[ ",$tpls," == *",frr,"* ]]
	[[ ",$tpls," != *",birdless,"* ]]
	[ "$(trellis --json node show | jq -r .templates_missing)" = "birdless (needs package bird2)" ]
	cat >"$T_DIR/t65n.yaml" <<EOS
slice: t65n
routers:
  r1: {template: frr}
  r2:
    template: birdless
    config: |
      protocol device {}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.65.0.1/24, 10.65.0.2/24]
EOS
	run trellis slice create -f "$T_DIR/t65n.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r2': template 'birdless' needs package 'bird2', which is not installed on this node (no /nonexistent/t65/sbin/bird)"* ]]
	assert_no_leftovers t65n
}

@test "a bird router with FRR daemons is refused at validation" {
	cat >"$T_DIR/t65d.yaml" <<EOS
slice: t65d
routers:
  r1:
    template: bird
    daemons: [bgpd]
    config: |
      protocol device {}
EOS
	run trellis slice create -f "$T_DIR/t65d.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"routers.r1.daemons"*"template 'bird' runs BIRD"* ]]
	assert_no_leftovers t65d
}

@test "deleting the mixed slice leaves nothing behind" {
	need_bird
	trellis -q slice delete "$S"
	assert_no_leftovers "$S"
}
