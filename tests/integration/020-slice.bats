#!/usr/bin/env bats
# Slice lifecycle: create, list, show, delete, and nothing left behind.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

S=t20a

plain_spec() {
	cat >"$T_DIR/$1.yaml" <<EOS
slice: $1
routers:
  r1:
    template: plain
    loopback: [10.255.0.1/32]
  r2:
    template: plain
    limits: {memory: 64M, pids: 100, cpu: 0.5}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
    ipv6: ["fd00:12::1/64", "fd00:12::2/64"]
EOS
	echo "$T_DIR/$1.yaml"
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

@test "create a plain slice, list and show it, delete it" {
	run trellis slice create -f "$(plain_spec $S)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"routers"* ]]

	run trellis --json slice list
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r ".slices[] | select(.name == \"$S\") | .state")" = ready ]
	[ "$(echo "$output" | jq -r ".slices[] | select(.name == \"$S\") | .routers")" = 2 ]

	run trellis --json slice show "$S"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.routers | length')" = 2 ]
	[ "$(echo "$output" | jq -r '[.routers[].state] | unique | join(",")')" = running ]
	[ "$(echo "$output" | jq -r '.links[0].hosts | join(",")')" = "$S.r1.eth1,$S.r2.eth1" ]
	[ "$(echo "$output" | jq -r '.links[0].state')" = up ]

	# text output carries the same facts
	run trellis slice show "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$S.r1.eth1"* ]]
	[[ "$output" == *"10.0.12.1/24"* ]]

	run trellis slice delete "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted"* ]]
	assert_no_leftovers "$S"
	run trellis --json slice list
	[ "$(echo "$output" | jq -r ".slices | map(select(.name == \"$S\")) | length")" = 0 ]
}

@test "routers are real containers: addresses, forwarding, ping across the link" {
	trellis -q slice create -f "$(plain_spec $S)" >/dev/null
	run trellis slice exec "$S" r1 -- ip -o addr show dev eth1
	[ "$status" -eq 0 ]
	[[ "$output" == *"10.0.12.1/24"* ]]
	[[ "$output" == *"fd00:12::1/64"* ]]
	run trellis slice exec "$S" r1 -- ip -o addr show dev lo
	[[ "$output" == *"10.255.0.1/32"* ]]
	run trellis slice exec "$S" r1 -- cat /proc/sys/net/ipv4/ip_forward
	[ "$output" = 1 ]
	run trellis slice exec "$S" r1 -- ping -c 3 -i 0.2 -W 2 10.0.12.2
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0% packet loss"* ]]
	run trellis slice exec "$S" r2 -- hostname
	[ "$output" = r2 ]
	# the host end of each veth exists and is joined by the fast path, not a bridge
	ip link show "$S.r1.eth1"
	refute_output_of " master " ip -d link show "$S.r1.eth1"
	tc filter show dev "$S.r1.eth1" ingress | grep -q bpf
}

@test "per-router limits are applied and read back from the kernel" {
	trellis -q slice create -f "$(plain_spec $S)" >/dev/null
	run trellis --json slice show "$S"
	[ "$(echo "$output" | jq -r '.routers[] | select(.name == "r2") | .limits.memory')" = 67108864 ]
	if [ -d /sys/fs/cgroup/memory ]; then
		[ "$(cat /sys/fs/cgroup/memory/trellis/$T_NODE/$S/r2/memory.limit_in_bytes)" = 67108864 ]
		[ "$(cat /sys/fs/cgroup/pids/trellis/$T_NODE/$S/r2/pids.max)" = 100 ]
		[ "$(cat /sys/fs/cgroup/cpu/trellis/$T_NODE/$S/r2/cpu.cfs_quota_us)" = 50000 ]
	else
		[ "$(cat /sys/fs/cgroup/trellis/$T_NODE/$S/r2/memory.max)" = 67108864 ]
		[ "$(cat /sys/fs/cgroup/trellis/$T_NODE/$S/r2/pids.max)" = 100 ]
		[ "$(cut -d' ' -f1 /sys/fs/cgroup/trellis/$T_NODE/$S/r2/cpu.max)" = 50000 ]
	fi
}

@test "a second create of the same slice is refused and changes nothing" {
	trellis -q slice create -f "$(plain_spec $S)" >/dev/null
	pid_before=$(trellis --json slice show "$S" | jq -r '.routers[0].pid')
	run trellis slice create -f "$T_DIR/$S.yaml"
	[ "$status" -eq 5 ]
	[[ "$output" == *"slice '$S' already exists"* ]]
	[ "$(trellis --json slice show "$S" | jq -r '.routers[0].pid')" = "$pid_before" ]
}

@test "delete is idempotent; show and delete of unknown slices" {
	run trellis slice delete t20nope
	[ "$status" -eq 0 ]
	[[ "$output" == *"did not exist"* ]]
	run trellis slice show t20nope
	[ "$status" -eq 4 ]
	[[ "$output" == *"t20nope"* ]]
	run trellis slice show 'Bad/Name'
	[ "$status" -ne 0 ]
}

@test "routers are unprivileged, confined and see no host secrets" {
	trellis -q slice create -f "$(plain_spec $S)" >/dev/null
	base=$(trellis --json slice show "$S" | jq -r '.uid_base')
	pid=$(trellis --json slice show "$S" | jq -r '.routers[0].pid')
	# root inside is the slice's mapped uid outside
	[ "$(stat -c %u /proc/$pid)" = "$base" ]
	run trellis slice exec "$S" r1 -- cat /proc/self/uid_map
	[[ "$output" == *"$base"* ]]
	run trellis slice exec "$S" r1 -- grep Seccomp: /proc/self/status
	[ "$status" -eq 0 ]
	[[ "$output" == "Seccomp:"*2 ]] # 2: a filter
	run trellis slice exec "$S" r1 -- touch /usr/trellis-test
	[ "$status" -ne 0 ]
	run trellis slice exec "$S" r1 -- mount -t tmpfs none /mnt
	[ "$status" -ne 0 ]
	run trellis slice exec "$S" r1 -- test -e /etc/shadow
	[ "$status" -ne 0 ]
	run trellis slice exec "$S" r1 -- ls /root/.ssh
	[ "$status" -ne 0 ]
	run trellis slice exec "$S" r1 -- ip link show
	[[ "$output" != *"eth0"* ]]
}
