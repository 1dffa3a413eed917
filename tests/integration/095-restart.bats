#!/usr/bin/env bats
# trellisd restarts: killed (SIGKILL) in steady state, in the middle of a
# create, after drift (a router stopped by hand, a host veth deleted), and
# after an emulated host restart (the slice's recorded boot differs and its
# routers are gone): forwarding never stops, interrupted work is finished or
# rolled back, drift is repaired, persistent slices come back, and node show
# reports what was done.

load helpers

setup_file() {
	# slowfrr: FRR that starts 30 s late, so a create is reliably caught half-way
	export T_EXTRA_TEMPLATES=$(mktemp -d /tmp/trellis-tpl.XXXXXX)
	chmod 755 "$T_EXTRA_TEMPLATES"
	cp -a "$TRELLIS_SRC/container-templates/frr" "$T_EXTRA_TEMPLATES/slowfrr"
	printf 'sleep 30\nexec /bin/sh /etc/trellis/boot\n' >"$T_EXTRA_TEMPLATES/slowfrr/rootfs/etc/trellis/slowboot"
	sed -i 's|^boot = .*|boot = /bin/sh /etc/trellis/slowboot|' "$T_EXTRA_TEMPLATES/slowfrr/template.conf"
	start_daemon
}

teardown_file() {
	stop_daemon
	rm -rf "$T_EXTRA_TEMPLATES"
}

teardown() {
	for s in t95a t95b t95c t95p t95n; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

pair_spec() { plain_pair_spec "$1" 95 "${2:-}"; } # name [top-level lines]


@test "SIGKILL in steady state: no ping lost while the daemon is gone and back, nothing to repair" {
	trellis -q slice create -f "$(pair_spec t95a)"
	# the pinger runs inside r1 (not through the daemon): 8 s at 100 per second
	trellis slice exec t95a r1 -- sh -c 'ping -c 800 -i 0.01 -W 1 10.95.0.2 >/tmp/ping.log 2>&1 &'
	sleep 2
	restart_daemon KILL
	sleep 1
	restart_daemon TERM
	wait_for 15 eval 'trellis slice exec t95a r1 -- grep -q "packets transmitted" /tmp/ping.log'
	run trellis slice exec t95a r1 -- tail -2 /tmp/ping.log
	echo "# ${lines[0]}" >&3
	[[ "${lines[0]}" == "800 packets transmitted, 800 received, 0% packet loss"* ]]
	[ "$(actions t95a)" = "[]" ]
	[ "$(trellis --json slice show t95a | jq -r .state)" = ready ]
	trellis --json node show | jq -e '.reconcile.slices >= 1'
}

@test "SIGKILL in the middle of a create: the next daemon rolls it back, nothing left" {
	f="$T_DIR/t95c.yaml"
	printf 'slice: t95c\nrouters:\n  r1: {template: slowfrr}\n  r2: {template: slowfrr}\nlinks:\n  - endpoints: [r1:eth1, r2:eth1]\n' >"$f"
	trellis slice create -f "$f" >"$T_DIR/create.log" 2>&1 &
	client=$!
	# kill it while it waits for the routers to be ready, before the links
	wait_for 30 grep -q "router 'r2' started" "$T_DIR/create.log"
	restart_daemon KILL
	wait "$client" || true
	echo "# actions: $(actions t95c)" >&3
	[ "$(actions t95c)" = '["rolled-back"]' ]
	run trellis slice show t95c
	[ "$status" -eq 4 ]
	assert_no_leftovers t95c
}

@test "drift: a router stopped by hand and a deleted host veth are repaired on restart" {
	trellis -q slice create -f "$(pair_spec t95b)"
	lxc-stop -P "$T_DIR/state/lxc" -n t95b.r1 -k
	[ "$(trellis --json slice show t95b | jq -r .state)" = degraded ]
	ip link del t95b.r2.eth1
	restart_daemon KILL
	echo "# $(actions t95b)" >&3
	[ "$(actions t95b | jq 'map(select(. == "restarted")) | length')" -eq 2 ]
	[ "$(trellis --json slice show t95b | jq -r .state)" = ready ]
	trellis slice exec t95b r1 -- ping -c 3 -i 0.2 -W 2 10.95.0.2
}

@test "host restart (emulated): a persist slice is rebuilt, another is removed" {
	trellis -q slice create -f "$(pair_spec t95p "persist: true")"
	trellis -q slice create -f "$(pair_spec t95n)"
	# what a reboot leaves: the store, with another boot recorded; no routers, veths or cgroups
	pid=$(cat "$T_DIR/trellisd.pid")
	kill -KILL "$pid"
	for s in t95p t95n; do
		for r in r1 r2; do lxc-stop -P "$T_DIR/state/lxc" -n "$s.$r" -k >/dev/null 2>&1 || true; done
		sqlite3 "$T_DIR/state/trellis.db" \
			"UPDATE settings SET value = json_set(value, '\$.boot_id', 'an-earlier-boot') WHERE slice = '$s'"
	done
	restart_daemon KILL
	[ "$(actions t95p)" = '["rebuilt"]' ]
	[ "$(actions t95n)" = '["removed"]' ]
	[ "$(trellis --json slice show t95p | jq -r .state)" = ready ]
	trellis slice exec t95p r1 -- ping -c 3 -i 0.2 -W 2 10.95.0.2
	run trellis slice show t95n
	[ "$status" -eq 4 ]
	assert_no_leftovers t95n
}
