#!/usr/bin/env bats
# What a router's command can hold, and what the host does for it: an exec or
# login session's command holds only its terminal or pipes (never the
# client's connection, on which it could forge progress and an exit status);
# the session's pty is opened inside the router's namespaces as its root (a
# ptmx the tenant replaced reaches no host file); io_uring is refused; host
# veth ends have no ARP, no IPv6 and no traffic until the fast path owns them.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	command -v script >/dev/null || skip "script (util-linux) is needed for a terminal"
	start_daemon
	trellis -q slice create -f "$(plain_pair_spec t88a 88)" >/dev/null
}

teardown_file() {
	stop_daemon
}

teardown() {
	[ -n "${CAT_PID:-}" ] && kill "$CAT_PID" 2>/dev/null || true
}

# Run the CLI on a terminal (script's pty): prints what the terminal showed,
# exits with the CLI's status.  script(1) runs the command with $SHELL, which
# is /bin/sh under CI: printf %q's $'...' (a multi-line argument) needs bash.
on_tty() {
	SHELL=/bin/bash script -qec "$(printf '%q ' "$TRELLIS_BIN" --socket "$T_SOCK" "$@")" /dev/null </dev/null
}

# What a hostile command writes to every fd above 2: a progress event and a
# final reply as trellisd would send them.
FORGE='import os
ev = b"{\"event\": \"progress\", \"step\": \"x\", \"message\": \"FORGED-PROGRESS\"}\n"
fin = b"{\"ok\": true, \"result\": {\"exit\": 42}}\n"
hit = []
for fd in range(3, 1024):
    try:
        os.write(fd, ev + fin)
        hit.append(fd)
    except OSError:
        pass
print("wrote to fds:", hit)
raise SystemExit(3)'

@test "tty exec: the command holds only its terminal" {
	run on_tty slice exec t88a r1 -- ls -l /proc/self/fd
	echo "$output"
	[ "$status" -eq 0 ]
	# 0, 1, 2 on the router's pty; 3 is ls's own directory fd; nothing else
	fds=$(echo "$output" | tr -d '\r' | awk '/ -> / {print $(NF-2) "=" $NF}')
	echo "fds: $fds"
	[ "$(echo "$fds" | grep -c .)" -eq 4 ]
	[ "$(echo "$fds" | grep -cE '^[012]=/dev/pts/[0-9]+$')" -eq 3 ]
	echo "$fds" | grep -qE '^3=/proc/[0-9]+/fd$'
	run ! grep -q socket <<<"$output"
}

@test "tty exec: forged messages on fds 3..1023 cannot reach the CLI" {
	run on_tty slice exec t88a r1 -- python3 -c "$FORGE"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"wrote to fds: []"* ]]
	[[ "$output" != *FORGED-PROGRESS* ]]
}

@test "exec without a terminal: the command holds only its stdio, forging reaches nothing" {
	run trellis slice exec t88a r1 -- ls -l /proc/self/fd
	echo "$output"
	[ "$(echo "$output" | grep -c ' -> ')" -eq 4 ]
	run ! grep -q socket <<<"$output"
	run trellis slice exec t88a r1 -- python3 -c "$FORGE"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"wrote to fds: []"* ]]
	[[ "$output" != *FORGED-PROGRESS* ]]
}

# r2's devpts is replaced (as a tenant who got init.lxc to change its root
# could): /dev/pts/ptmx becomes a symlink to a host FIFO, then a FIFO.  The
# old helper opened /proc/<init>/root/dev/pts/ptmx as host root and followed
# the symlink to the host path.
@test "login: a router's ptmx replaced by a symlink or FIFO opens no host file and hangs nothing" {
	pid=$(trellis --json slice show t88a | jq -r '.routers[] | select(.name == "r2") | .pid')
	[ "$pid" -gt 1 ]
	fifo="$T_DIR/host-fifo"
	mkfifo "$fifo"
	nsenter -t "$pid" -m -p umount -l /dev/pts
	nsenter -t "$pid" -U -m -p ln -s "$fifo" /dev/pts/ptmx
	# a reader on the host FIFO finishes as soon as anything opens it for writing
	timeout 20 cat "$fifo" >/dev/null &
	CAT_PID=$!
	start=$(date +%s)
	run on_tty slice exec t88a r2 -- tty
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot open a pty"* ]]
	sleep 0.5
	kill -0 "$CAT_PID" # nothing opened the host FIFO
	# a FIFO in its place: refused at once, no hang
	nsenter -t "$pid" -U -m -p sh -c 'rm /dev/pts/ptmx && mkfifo /dev/pts/ptmx'
	run on_tty slice exec t88a r2 -- tty
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot open a pty"* ]]
	[ $(($(date +%s) - start)) -lt 10 ]
	# the router is unharmed: exec without a terminal still works
	run trellis slice exec t88a r2 -- echo alive
	[ "$output" = alive ]
}

@test "seccomp: io_uring_setup is refused in a router" {
	command -v cc >/dev/null || skip "no C compiler (cc) for the probe"
	cc -O2 -Wall -o "$T_DIR/hostile-probe" "$TRELLIS_SRC/tests/integration/lib/hostile-probe.c"
	trellis slice exec t88a r1 -- sh -c 'cat >/tmp/hostile-probe && chmod 755 /tmp/hostile-probe' \
		<"$T_DIR/hostile-probe"
	run trellis slice exec t88a r1 -- /tmp/hostile-probe io-uring
	echo "# $output" >&3
	[ "$status" -eq 1 ]
	[[ "$output" == *"errno 38"* || "$output" == *"errno 1)"* ]]
}

@test "host veth ends: no ARP and no IPv6 during a create, fast path attached after it" {
	spec=$(plain_pair_spec t88b 89)
	# an FRR router keeps the links step waiting while the plain one runs
	sed -i 's/^  r1: {template: plain}/  r1: {daemons: [ospfd]}/' "$spec"
	timeout 60 ip -o monitor link address >"$T_DIR/mon" 2>&1 &
	mon=$!
	trellis -q slice create -f "$spec" >/dev/null
	sleep 1
	kill "$mon"
	wait "$mon" || true
	lines=$(grep -E ': t88b\.' "$T_DIR/mon" || true)
	echo "$lines"
	[ -n "$lines" ]
	# never a carrier without NOARP, never an IPv6 address
	run ! grep -E 'LOWER_UP' <<<"$(grep -v NOARP <<<"$lines")"
	run ! grep -E 'inet6' <<<"$lines"
	for h in t88b.r1.eth1 t88b.r2.eth1; do
		ip -o link show dev "$h" | grep -q NOARP
		ip -o link show dev "$h" | grep -q 'state UP'
		[ -z "$(ip -6 addr show dev "$h")" ]
		tc filter show dev "$h" ingress | grep -q fp_port_ingress
	done
	trellis slice exec t88b r2 -- ping -c1 -W5 10.89.0.1
	trellis -q slice delete t88b
}
