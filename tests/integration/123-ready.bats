#!/usr/bin/env bats
# "Ready" means usable: right after create returns (and after a router
# start), the routers' IPv6 addresses on their point-to-point links are not
# tentative (no duplicate address detection there) and a ping goes through
# at the first try.

load helpers

S=t123a

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

v6_spec() {
	cat >"$T_DIR/$S.yaml" <<EOS
slice: $S
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv6: ["fd00:123::1/64", "fd00:123::2/64"]
EOS
	echo "$T_DIR/$S.yaml"
}

@test "IPv6 on a link works the moment create returns: no tentative address, the first ping answers" {
	run trellis slice create -f "$(v6_spec)"
	[ "$status" -eq 0 ]
	run trellis slice exec "$S" r1 -- ping -6 -c 1 -W 1 fd00:123::2
	echo "$output"
	[ "$status" -eq 0 ]
	run trellis slice exec "$S" r2 -- ip -6 addr show dev eth1
	echo "$output"
	[[ "$output" == *"fd00:123::2/64"* ]]
	[[ "$output" != *"tentative"* ]]
	[ "$(trellis slice exec "$S" r2 -- cat /proc/sys/net/ipv6/conf/eth1/accept_dad)" = 0 ]
}

@test "and the moment router start returns" {
	run trellis slice create -f "$(v6_spec)"
	[ "$status" -eq 0 ]
	trellis -q router stop "$S" r2
	trellis -q router start "$S" r2
	run trellis slice exec "$S" r1 -- ping -6 -c 1 -W 1 fd00:123::2
	echo "$output"
	[ "$status" -eq 0 ]
}
