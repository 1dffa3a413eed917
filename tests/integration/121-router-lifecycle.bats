#!/usr/bin/env bats
# router stop|start|restart: one router of a running slice; its neighbours
# see the link go down; the rootfs is kept; a stopped router stays stopped
# across a daemon restart, also while a crashed neighbour is repaired.

load helpers

S=t121a

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

state_of() { trellis --json slice show "$S" | jq -r ".routers[] | select(.name == \"$1\") | .state"; }
pid_of() { trellis --json slice show "$S" | jq -r ".routers[] | select(.name == \"$1\") | .pid"; }
carrier() { trellis slice exec "$S" "$1" -- cat "/sys/class/net/$2/carrier" 2>/dev/null || echo gone; }

@test "stop: state stopped, the neighbour's interface loses its carrier; start: same rootfs, link back" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	trellis slice exec "$S" r2 -- sh -c 'echo kept >/var/tmp/marker'
	[ "$(carrier r1 eth1)" = 1 ]

	run trellis router stop "$S" r2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"router 'r2' stopped"* ]]
	[ "$(state_of r2)" = stopped ]
	[ "$(state_of r1)" = running ]
	[ "$(carrier r1 eth1)" = 0 ]
	run trellis slice exec "$S" r1 -- ping -c 1 -W 1 10.121.0.2
	[ "$status" -ne 0 ]

	run trellis router start "$S" r2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_of r2)" = running ]
	[ "$(trellis slice exec "$S" r2 -- cat /var/tmp/marker)" = kept ]
	[ "$(carrier r1 eth1)" = 1 ]
	[ "$(trellis --json slice show "$S" | jq -r '.links[0].state')" = up ]
	run trellis slice exec "$S" r1 -- ping -c 2 -W 2 10.121.0.2
	[ "$status" -eq 0 ]
}

@test "restart: a new init, the rootfs kept, the link up again" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	trellis slice exec "$S" r1 -- sh -c 'echo kept >/var/tmp/marker'
	p1=$(pid_of r1) p2=$(pid_of r2)
	run trellis router restart "$S" r1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_of r1)" = running ]
	[ "$(pid_of r1)" != "$p1" ]
	[ "$(pid_of r2)" = "$p2" ]
	[ "$(trellis slice exec "$S" r1 -- cat /var/tmp/marker)" = kept ]
	run trellis slice exec "$S" r1 -- ping -c 2 -W 2 10.121.0.2
	[ "$status" -eq 0 ]
}

@test "a stopped router stays stopped across a daemon restart, and starts afterwards" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	trellis -q router stop "$S" r2
	restart_daemon
	[ "$(state_of r2)" = stopped ]
	[ "$(actions $S)" = "[]" ]
	run trellis router start "$S" r2
	[ "$status" -eq 0 ]
	run trellis slice exec "$S" r1 -- ping -c 2 -W 2 10.121.0.2
	[ "$status" -eq 0 ]
}

@test "a crashed router is repaired on restart; its neighbour stopped on purpose stays stopped, their link down" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	trellis -q router stop "$S" r2
	lxc-stop -P "$T_DIR/state/lxc" -n "$S.r1" -k
	restart_daemon
	echo "# $(actions $S)" >&3
	[ "$(actions $S)" = '["restarted"]' ]
	[ "$(state_of r1)" = running ]
	[ "$(state_of r2)" = stopped ]
	[ "$(carrier r1 eth1)" = 0 ]
	run trellis router start "$S" r2
	[ "$status" -eq 0 ]
	run trellis slice exec "$S" r1 -- ping -c 2 -W 2 10.121.0.2
	[ "$status" -eq 0 ]
}

@test "an apply is refused while a router is stopped, and runs once it is started" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	trellis -q router stop "$S" r2
	sed 's|^  r2: {template: plain}|  r2: {template: plain, limits: {pids: 300}}|' "$T_DIR/$S.yaml" >"$T_DIR/edit.yaml"
	run trellis slice apply -f "$T_DIR/edit.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r2' is stopped"* ]]
	trellis -q router start "$S" r2
	run trellis slice apply -f "$T_DIR/edit.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"~ router r2: limits: in place"* ]]
}

@test "errors: unknown router, another user's slice looks missing" {
	run trellis slice create -f "$(plain_pair_spec $S 121)"
	[ "$status" -eq 0 ]
	run trellis router stop "$S" r9
	[ "$status" -ne 0 ]
	[[ "$output" == *"slice '$S' has no router 'r9'"* ]]
	run as_user nobody router stop "$S" r1
	[ "$status" -ne 0 ]
	[[ "$output" == *"no slice '$S'"* ]]
	[ "$(state_of r1)" = running ]
}
