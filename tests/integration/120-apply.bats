#!/usr/bin/env bats
# slice apply: a running slice changed to an edited spec, in place; what the
# edit does not touch keeps running (pids, OSPF adjacencies, pings); a
# failing step puts the slice back and keeps the stored spec.

load helpers

S=t120a

setup_file() {
	# A template whose router exits right after it starts: a step that fails.
	T_EXTRA_TEMPLATES=$(mktemp -d /tmp/trellis-test-120-tpl.XXXXXX)
	export T_EXTRA_TEMPLATES
	mkdir -p "$T_EXTRA_TEMPLATES/dies120/rootfs/etc/trellis"
	printf '#!/bin/sh\nexit 1\n' >"$T_EXTRA_TEMPLATES/dies120/rootfs/etc/trellis/boot"
	chmod 755 "$T_EXTRA_TEMPLATES/dies120/rootfs/etc/trellis/boot"
	printf 'description = boots, then exits\nrouting = none\nboot = /etc/trellis/boot\n' \
		>"$T_EXTRA_TEMPLATES/dies120/template.conf"
	chmod -R a+rX "$T_EXTRA_TEMPLATES"
	start_daemon
}

teardown_file() {
	stop_daemon
	rm -rf "$T_EXTRA_TEMPLATES"
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

# An FRR router at 2 spaces under "routers:" (OSPF on lo and the interfaces,
# cost $4 on eth1).
frr_router() {
	local name=$1 n=$2 ifs=$3 cost=$4 i
	printf '  %s:\n    daemons: [ospfd]\n    loopback: [10.255.0.%s/32]\n    config: |\n      router ospf\n       ospf router-id 10.255.0.%s\n      interface lo\n       ip ospf area 0\n' \
		"$name" "$n" "$n"
	for i in $ifs; do
		printf '      interface %s\n       ip ospf area 0\n       ip ospf network point-to-point\n       ip ospf hello-interval 1\n       ip ospf dead-interval 4\n' "$i"
		if [ "$i" = eth1 ]; then printf '       ip ospf cost %s\n' "$cost"; fi
	done
	return 0
}

# The base slice: a line r1 - r2 - r3 (FRR, OSPF).  Variants by arguments:
#   spec FILE COST_R1 [extra routers YAML] [extra links YAML]
spec() {
	{
		printf 'slice: %s\nrouters:\n' "$S"
		frr_router r1 1 "eth1" "$2"
		frr_router r2 2 "eth1 eth2" 10
		frr_router r3 3 "eth1 ${5:-}" 10
		if [ -n "${3:-}" ]; then printf '%s\n' "$3"; fi
		printf 'links:\n  - endpoints: [r1:eth1, r2:eth1]\n    ipv4: [10.0.12.1/24, 10.0.12.2/24]\n'
		printf '  - endpoints: [r2:eth2, r3:eth1]\n    ipv4: [10.0.23.2/24, 10.0.23.3/24]\n'
		if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
	} >"$1"
}

pid_of() { trellis --json slice show "$S" | jq -r ".routers[] | select(.name == \"$1\") | .pid"; }

ospf_ready() {
	[ "$(ospf_full_count "$S" r2)" = 2 ] && [ "$(ospf_full_count "$S" r3)" -ge 1 ]
}

create_base() {
	spec "$T_DIR/base.yaml" 10
	run trellis slice create -f "$T_DIR/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 60 ospf_ready
}

@test "dry run: the plan is printed, nothing changes" {
	create_base
	p1=$(pid_of r1)
	spec "$T_DIR/edit.yaml" 50 "$(printf '  r4:\n    template: plain\n')" \
		"$(printf '  - endpoints: [r3:eth2, r4:eth1]\n    ipv4: [10.0.34.3/24, 10.0.34.4/24]\n')" eth2
	# and r2 gets another loopback: it restarts
	sed -i 's|loopback: \[10.255.0.2/32\]|loopback: [10.255.0.22/32]|' "$T_DIR/edit.yaml"
	run trellis slice apply --dry-run -f "$T_DIR/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"dry run"* ]]
	[[ "$output" == *"+ router r4"* ]]
	[[ "$output" == *"+ link r3:eth2-r4:eth1"* ]]
	[[ "$output" == *"~ router r1: config: FRR reload, no restart"* ]]
	[[ "$output" == *"+ link r3:eth2-r4:eth1: its interfaces are added to the running routers"* ]] ||
		[[ "$output" == *"+ link r3:eth2-r4:eth1: comes up with its new or restarted router"* ]]
	[[ "$output" == *"~ router r2: loopback: restarts"* ]]
	[[ "$output" == *"disturbs: router r2 restarts"* ]]
	[[ "$output" == *"disturbs: link r1:eth1-r2:eth1 flaps"* ]]
	[[ "$output" == *"disturbs: link r2:eth2-r3:eth1 flaps"* ]]
	[[ "$output" != *"r3 restarts"* ]]
	plan=$(trellis --json slice apply --dry-run -f "$T_DIR/edit.yaml" 2>/dev/null)
	[ "$(echo "$plan" | jq -r '.applied')" = false ]
	[ "$(echo "$plan" | jq -r '[.changes[] | select(.change == "added")] | length')" = 2 ]
	[ "$(echo "$plan" | jq -r '.disturbed | join(",")')" = "router r2 restarts,link r1:eth1-r2:eth1 flaps,link r2:eth2-r3:eth1 flaps" ]
	# nothing ran
	[ "$(trellis --json slice show "$S" | jq -r '.routers | length')" = 3 ]
	[ "$(pid_of r1)" = "$p1" ]
	run vtysh_in "$S" r1 "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
	# the spec as it runs: nothing to do
	run trellis slice apply -f "$T_DIR/base.yaml"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to change"* ]]
}

@test "an OSPF cost change is an FRR reload: no restart, no adjacency reset, no lost ping" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2) p3=$(pid_of r3)
	# pings across the untouched link r2-r3 while r1 reloads
	trellis slice exec "$S" r2 -- ping -q -i 0.05 -c 80 10.0.23.3 >"$T_DIR/ping.out" 2>&1 &
	pinger=$!
	up_before=$(vtysh_in "$S" r3 "show ip ospf neighbor json" | jq -r '.neighbors["10.255.0.2"][0].upTimeInMsec // .neighbors["10.255.0.2"][0].uptimeInMsec // empty')
	spec "$T_DIR/edit.yaml" 50
	run trellis slice apply -f "$T_DIR/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ router r1: config: FRR reload, no restart"* ]]
	[[ "$output" == *"disturbs nothing that runs"* ]]
	wait "$pinger"
	cat "$T_DIR/ping.out"
	grep -q ' 0% packet loss' "$T_DIR/ping.out"
	run vtysh_in "$S" r1 "show running-config"
	[[ "$output" == *"ip ospf cost 50"* ]]
	[[ "$output" != *"ip ospf cost 10"* ]]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ] && [ "$(pid_of r3)" = "$p3" ]
	# r3's adjacency to r2 kept counting up (not reset)
	up_after=$(vtysh_in "$S" r3 "show ip ospf neighbor json" | jq -r '.neighbors["10.255.0.2"][0].upTimeInMsec // .neighbors["10.255.0.2"][0].uptimeInMsec // empty')
	echo "uptime before $up_before after $up_after"
	[ -n "$up_before" ] && [ "$up_after" -gt "$up_before" ]
	# and r1 still has its adjacency to r2
	[ "$(ospf_full_count "$S" r1)" = 1 ]
	# the stored spec is the edited one: applying it again changes nothing
	run trellis slice apply -f "$T_DIR/edit.yaml"
	[[ "$output" == *"nothing to change"* ]]
}

@test "add a router and a link, then remove them; the routers that stay keep running" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2) p3=$(pid_of r3)
	up_before=$(vtysh_in "$S" r3 "show ip ospf neighbor json" | jq -r '.neighbors["10.255.0.2"][0].upTimeInMsec // .neighbors["10.255.0.2"][0].uptimeInMsec // empty')
	spec "$T_DIR/add.yaml" 10 "$(frr_router r4 4 eth1 10)" "$(printf '  - endpoints: [r3:eth2, r4:eth1]\n    ipv4: [10.0.34.3/24, 10.0.34.4/24]\n')" eth2
	run trellis slice apply -f "$T_DIR/add.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"+ router r4"* ]]
	[ "$(trellis --json slice show "$S" | jq -r '.routers | length')" = 4 ]
	[ "$(trellis --json slice show "$S" | jq -r '.links[] | select(.name == "r3:eth2-r4:eth1") | .state')" = up ]
	run trellis slice exec "$S" r4 -- ping -c 2 -W 2 10.0.34.3
	[ "$status" -eq 0 ]
	# OSPF over the new link: r1 learns r4's loopback
	wait_for 60 eval "vtysh_in $S r1 'show ip route 10.255.0.4/32' | grep -q ospf"
	# r3 got its new interface while it ran: same init, its adjacency to r2 kept
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ] && [ "$(pid_of r3)" = "$p3" ]
	up_after=$(vtysh_in "$S" r3 "show ip ospf neighbor json" | jq -r '.neighbors["10.255.0.2"][0].upTimeInMsec // .neighbors["10.255.0.2"][0].uptimeInMsec // empty')
	[ -n "$up_before" ] && [ "$up_after" -gt "$up_before" ]
	# and a restart of r3 now keeps that interface (its LXC config was rewritten)
	trellis -q router restart "$S" r3
	run trellis slice exec "$S" r4 -- ping -c 2 -W 2 10.0.34.3
	[ "$status" -eq 0 ]
	p3=$(pid_of r3)

	# remove the link r3-r4 only: both routers keep running, the interfaces go
	spec "$T_DIR/nolink.yaml" 10 "$(frr_router r4 4 eth1 10)" ""
	run trellis slice apply -f "$T_DIR/nolink.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"- link r3:eth2-r4:eth1"* ]]
	[ "$(pid_of r3)" = "$p3" ]
	run trellis slice exec "$S" r3 -- ip link show eth2
	[ "$status" -ne 0 ]
	[ "$(trellis --json slice show "$S" | jq -r '.links | length')" = 2 ]

	# remove the router
	run trellis slice apply -f "$T_DIR/base.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"- router r4"* ]]
	[ "$(trellis --json slice show "$S" | jq -r '.routers | length')" = 3 ]
	[ ! -e "$T_DIR/state/lxc/$S.r4" ]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ] && [ "$(pid_of r3)" = "$p3" ]
}

@test "a link's addresses change in place: both routers keep running, and keep them across a restart" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2)
	spec "$T_DIR/readdr.yaml" 10
	sed -i 's|ipv4: \[10.0.12.1/24, 10.0.12.2/24\]|ipv4: [10.0.21.1/24, 10.0.21.2/24]|' "$T_DIR/readdr.yaml"
	run trellis slice apply -f "$T_DIR/readdr.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ link r1:eth1-r2:eth1: addresses: in place, the routers keep running"* ]]
	[[ "$output" == *"disturbs: link r1:eth1-r2:eth1 changes addresses"* ]]
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ]
	run trellis slice exec "$S" r1 -- ip -4 -o addr show dev eth1
	echo "$output"
	[[ "$output" == *"10.0.21.1/24"* ]]
	[[ "$output" != *"10.0.12.1/24"* ]]
	run trellis slice exec "$S" r1 -- ping -c 2 -W 2 10.0.21.2
	[ "$status" -eq 0 ]
	trellis -q router restart "$S" r1
	run trellis slice exec "$S" r1 -- ip -4 -o addr show dev eth1
	[[ "$output" == *"10.0.21.1/24"* ]]
	run trellis slice apply -f "$T_DIR/readdr.yaml"
	[[ "$output" == *"nothing to change"* ]]
}

@test "link shaping and router limits change in place" {
	create_base
	p1=$(pid_of r1)
	spec "$T_DIR/shape.yaml" 10
	sed -i 's|^    ipv4: \[10.0.12.1/24, 10.0.12.2/24\]|&\n    rate: 20mbit|' "$T_DIR/shape.yaml"
	sed -i 's|^  r2:|&\n    limits: {memory: 96M}|' "$T_DIR/shape.yaml"
	cat "$T_DIR/shape.yaml"
	run trellis slice apply -f "$T_DIR/shape.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ link r1:eth1-r2:eth1: shaping: in place"* ]]
	[[ "$output" == *"~ router r2: limits: in place"* ]]
	[ "$(trellis --json slice show "$S" | jq -r '.links[] | select(.name == "r1:eth1-r2:eth1") | .shape.rate // .rate // empty')" = 20000000 ] ||
		tc class show dev "$S.r1.eth1" | grep -q '20Mbit'
	if [ -e /sys/fs/cgroup/memory/trellis ]; then
		limit=$(cat "/sys/fs/cgroup/memory/trellis/$T_NODE/$S/r2/memory.limit_in_bytes")
	else
		limit=$(cat "/sys/fs/cgroup/trellis/$T_NODE/$S/r2/memory.max")
	fi
	echo "limit: $limit"
	[ "$limit" = $((96 << 20)) ]
	[ "$(pid_of r1)" = "$p1" ]
}

@test "a failing step rolls the slice back; the stored spec stays" {
	create_base
	p1=$(pid_of r1) p2=$(pid_of r2) p3=$(pid_of r3)
	# r4 cannot start (r3 would get a new interface)
	spec "$T_DIR/bad.yaml" 50 "$(printf '  r4:\n    template: dies120\n')" \
		"$(printf '  - endpoints: [r3:eth2, r4:eth1]\n    ipv4: [10.0.34.3/24, 10.0.34.4/24]\n')" eth2
	run trellis slice apply -f "$T_DIR/bad.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"rolled back"* ]]
	[[ "$output" == *"router 'r4'"* ]]
	run trellis --json slice show "$S"
	[ "$(echo "$output" | jq -r '.routers | length')" = 3 ]
	[ "$(echo "$output" | jq -r '[.routers[].state] | unique | join(",")')" = running ]
	[ "$(echo "$output" | jq -r '[.links[].state] | unique | join(",")')" = up ]
	[ ! -e "$T_DIR/state/lxc/$S.r4" ]
	# no router that was running stopped
	[ "$(pid_of r1)" = "$p1" ] && [ "$(pid_of r2)" = "$p2" ] && [ "$(pid_of r3)" = "$p3" ]
	run trellis slice exec "$S" r3 -- ip link show eth2
	[ "$status" -ne 0 ]
	run trellis slice exec "$S" r2 -- ping -c 2 -W 2 10.0.23.3
	[ "$status" -eq 0 ]
	wait_for 60 ospf_ready
	# the reload of r1 was undone with the rest (or never ran): cost 10
	run vtysh_in "$S" r1 "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
	# the stored spec is the old one: applying it changes nothing
	run trellis slice apply -f "$T_DIR/base.yaml"
	[[ "$output" == *"nothing to change"* ]]
}

@test "FRR refusing the new config fails the apply and keeps the old config" {
	create_base
	p1=$(pid_of r1)
	spec "$T_DIR/refused.yaml" 10
	sed -i 's|^       ospf router-id 10.255.0.1|&\n       this-is-no-frr-command 1|' "$T_DIR/refused.yaml"
	run trellis slice apply -f "$T_DIR/refused.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"FRR refused"* ]]
	[ "$(pid_of r1)" = "$p1" ]
	run trellis slice apply -f "$T_DIR/base.yaml"
	[[ "$output" == *"nothing to change"* ]]
}

bird_spec() { # FILE STATIC-ROUTE-PREFIX
	cat >"$1" <<EOS
slice: $S
routers:
  b1:
    template: bird
    config: |
      router id 10.255.1.1;
      protocol device {
      }
      protocol static st1 {
        ipv4;
        route $2 blackhole;
      }
  b2: {template: plain}
links:
  - endpoints: [b1:eth1, b2:eth1]
    ipv4: [10.0.91.1/24, 10.0.91.2/24]
EOS
}

@test "a BIRD router's config change is a 'birdc configure': BIRD keeps running" {
	[ -e "$TRELLIS_SRC/container-templates/bird/template.conf" ] && command -v bird >/dev/null ||
		skip "no BIRD 2 on this host (Debian's bird2)"
	bird_spec "$T_DIR/b1.yaml" 10.77.0.0/16
	run trellis slice create -f "$T_DIR/b1.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 20 eval "trellis slice exec $S b1 -- birdc show route 2>/dev/null | grep -q 10.77.0.0/16"
	bird_pid=$(trellis slice exec "$S" b1 -- pidof bird)
	p1=$(pid_of b1)
	bird_spec "$T_DIR/b1-edit.yaml" 10.78.0.0/16
	run trellis slice apply -f "$T_DIR/b1-edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ router b1: config: BIRD reload, no restart"* ]]
	run trellis slice exec "$S" b1 -- birdc show route
	echo "$output"
	[[ "$output" == *"10.78.0.0/16"* ]]
	[[ "$output" != *"10.77.0.0/16"* ]]
	[ "$(trellis slice exec "$S" b1 -- pidof bird)" = "$bird_pid" ]
	[ "$(pid_of b1)" = "$p1" ]
	# a config BIRD refuses fails the apply; the running config stays
	bird_spec "$T_DIR/b1-bad.yaml" 10.79.0.0/16
	sed -i 's|route 10.79.0.0/16 blackhole;|route 10.79.0.0/16 nonsense;|' "$T_DIR/b1-bad.yaml"
	run trellis slice apply -f "$T_DIR/b1-bad.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"birdc configure"* ]]
	run trellis slice exec "$S" b1 -- birdc show route
	[[ "$output" == *"10.78.0.0/16"* ]]
}

@test "apply is the owner's: another user's apply looks like a missing slice" {
	create_base
	spec "$T_DIR/edit.yaml" 50
	chmod 644 "$T_DIR/edit.yaml"
	run as_user nobody slice apply -f "$T_DIR/edit.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no slice '$S'"* ]]
	run vtysh_in "$S" r1 "show running-config"
	[[ "$output" == *"ip ospf cost 10"* ]]
}
